//! Image folders in the torchvision `ImageFolder` convention: `root/<class>/<image>`, classes
//! sorted by name, PNG or JPEG images (decoded with the `image` crate), each resized so its
//! shorter side is `side` and centre-cropped to `side x side`, in RGB.

use std::path::{Path, PathBuf};

use amalgam_core::data::ImageSet;
use amalgam_core::model::ImageShape;
use amalgam_core::{Error, Result};
use image::imageops::FilterType;
use rayon::prelude::*;

/// File extensions read as images (case-insensitive).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::file(dir, format!("cannot read directory: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Error::file(dir, format!("cannot read directory: {e}")))?
            .path();
        if keep(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The class names (sub-folder names, sorted) of an image folder.
///
/// # Errors
/// [`Error::File`] if `root` cannot be read or has no class folders.
pub(super) fn class_names(root: &Path) -> Result<Vec<String>> {
    let classes: Vec<String> = sorted_entries(root, Path::is_dir)?
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if classes.is_empty() {
        return Err(Error::file(
            root,
            "has no class folders (expected root/<class>/<image>)",
        ));
    }
    Ok(classes)
}

/// Decodes one image into `side x side` RGB values in [0, 1], channel planes first.
fn decode(path: &Path, side: usize) -> Result<Vec<f32>> {
    let image =
        image::open(path).map_err(|e| Error::file(path, format!("unreadable image: {e}")))?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let scale = side as f64 / w.min(h) as f64;
    let (rw, rh) = (
        ((w as f64 * scale).round() as u32).max(side as u32),
        ((h as f64 * scale).round() as u32).max(side as u32),
    );
    let resized = image.resize_exact(rw, rh, FilterType::Triangle).to_rgb8();
    let (x0, y0) = ((rw as usize - side) / 2, (rh as usize - side) / 2);
    let mut values = vec![0.0f32; 3 * side * side];
    for y in 0..side {
        for x in 0..side {
            let pixel = resized.get_pixel((x0 + x) as u32, (y0 + y) as u32);
            for c in 0..3 {
                values[(c * side + y) * side + x] = f32::from(pixel[c]) / 255.0;
            }
        }
    }
    Ok(values)
}

/// Reads the images of `root`, labelled by their class folder's index in `classes`.
///
/// # Errors
/// [`Error::File`] naming a class folder that is missing or empty, a folder whose classes are
/// not among `classes`, or an unreadable image.
pub(super) fn read_image_folder(root: &Path, classes: &[String], side: usize) -> Result<ImageSet> {
    let found = class_names(root)?;
    if let Some(unknown) = found.iter().find(|c| !classes.contains(c)) {
        return Err(Error::file(
            root.join(unknown),
            "is a class the training folder does not have",
        ));
    }
    let mut files = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        if !dir.is_dir() {
            continue;
        }
        let images = sorted_entries(&dir, |p| {
            p.extension()
                .is_some_and(|e| EXTENSIONS.contains(&e.to_string_lossy().to_lowercase().as_str()))
        })?;
        if images.is_empty() {
            return Err(Error::file(
                &dir,
                "empty class folder: no PNG or JPEG images",
            ));
        }
        files.extend(images.into_iter().map(|p| (p, label as u8)));
    }
    let decoded: Vec<Vec<f32>> = files
        .par_iter()
        .map(|(path, _)| decode(path, side))
        .collect::<Result<_>>()?;
    let shape = ImageShape {
        channels: 3,
        height: side,
        width: side,
    };
    let labels = files.iter().map(|(_, l)| *l).collect();
    ImageSet::new(shape, decoded.concat(), labels).map_err(|e| Error::file(root, e))
}
