//! Tensors on disk in the safetensors format: a named set of host tensors plus string metadata.
//!
//! All amalgam tensor files (bundle data, initial and trained weights, extracted models) go
//! through [`write_tensor_file`] and [`read_tensor_file`], so every format error names its file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};

use crate::files::{PUBLIC_MODE, create_atomic};
use crate::{Error, Result};

/// The values of a host tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// 32-bit floats (images, weights).
    F32(Vec<f32>),
    /// Bytes (class labels).
    U8(Vec<u8>),
    /// 32-bit unsigned integers (token ids).
    U32(Vec<u32>),
}

/// A tensor held on the host: shape and row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub values: Values,
}

impl HostTensor {
    /// An f32 tensor. Panics if `values.len()` does not match `shape` (a programming error).
    pub fn f32(shape: Vec<usize>, values: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "shape/values mismatch"
        );
        Self {
            shape,
            values: Values::F32(values),
        }
    }

    /// A u8 tensor. Panics if `values.len()` does not match `shape` (a programming error).
    pub fn u8(shape: Vec<usize>, values: Vec<u8>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "shape/values mismatch"
        );
        Self {
            shape,
            values: Values::U8(values),
        }
    }

    /// A borrowed view of this tensor, for writing.
    pub fn as_view(&self) -> TensorView<'_> {
        TensorView {
            shape: self.shape.clone(),
            values: match &self.values {
                Values::F32(v) => ValuesView::F32(v),
                Values::U8(v) => ValuesView::U8(v),
                Values::U32(v) => ValuesView::U32(v),
            },
        }
    }
}

/// Borrowed row-major values of a tensor to write.
#[derive(Clone, Copy, Debug)]
pub enum ValuesView<'a> {
    /// 32-bit floats.
    F32(&'a [f32]),
    /// 16-bit floats.
    F16(&'a [half::f16]),
    /// Bytes.
    U8(&'a [u8]),
    /// 32-bit unsigned integers.
    U32(&'a [u32]),
}

/// A borrowed tensor to write: shape and values, without copying them.
#[derive(Clone, Debug)]
pub struct TensorView<'a> {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub values: ValuesView<'a>,
}

impl<'a> TensorView<'a> {
    /// The little-endian bytes (a cast, no copy: amalgam builds for little-endian targets).
    fn bytes(&self) -> &'a [u8] {
        match self.values {
            ValuesView::F32(v) => bytemuck::cast_slice(v),
            ValuesView::F16(v) => bytemuck::cast_slice(v),
            ValuesView::U8(v) => v,
            ValuesView::U32(v) => bytemuck::cast_slice(v),
        }
    }

    fn dtype(&self) -> Dtype {
        match self.values {
            ValuesView::F32(_) => Dtype::F32,
            ValuesView::F16(_) => Dtype::F16,
            ValuesView::U8(_) => Dtype::U8,
            ValuesView::U32(_) => Dtype::U32,
        }
    }
}

#[cfg(not(target_endian = "little"))]
compile_error!(
    "amalgam's tensor files are little-endian and written by casting; build for a little-endian target"
);

/// The contents of a safetensors file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorFile {
    /// Tensors by name.
    pub tensors: BTreeMap<String, HostTensor>,
    /// The file's `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

/// The safetensors views of `file`'s tensors and its metadata.
fn views(
    file: &TensorFile,
) -> std::result::Result<
    (
        Vec<(String, safetensors::tensor::TensorView<'_>)>,
        HashMap<String, String>,
    ),
    safetensors::SafeTensorError,
> {
    let views = file
        .tensors
        .iter()
        .map(|(name, t)| {
            let t = t.as_view();
            safetensors::tensor::TensorView::new(t.dtype(), t.shape.clone(), t.bytes())
                .map(|view| (name.clone(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((views, file.metadata.clone().into_iter().collect()))
}

/// Writes `file` to `path` atomically (temporary file + rename).
///
/// # Errors
/// [`Error::File`] naming `path` if it cannot be written.
pub fn write_tensor_file(path: &Path, file: &TensorFile) -> Result<()> {
    let (views, metadata) =
        views(file).map_err(|e| Error::file(path, format!("cannot write: {e}")))?;
    create_atomic(path, PUBLIC_MODE, |_, tmp_path| {
        safetensors::serialize_to_file(views, Some(metadata), tmp_path).map_err(|e| e.to_string())
    })
}

/// Reads a safetensors file. Only F32, U8 and U32 tensors are accepted.
///
/// # Errors
/// [`Error::File`] naming `path` if it is missing, truncated, not safetensors, or holds
/// another dtype.
pub fn read_tensor_file(path: &Path) -> Result<TensorFile> {
    read_tensors(path, crate::files::MAX_READ_BYTES, |_| true)
}

/// Reads the tensors of a safetensors file of at most `limit` bytes whose names `wanted`
/// accepts, and all its metadata. The file is memory-mapped, so tensors not wanted are never
/// read (a huge or sparse file costs only what is asked of it). Only F32, U8 and U32 tensors
/// are accepted.
///
/// # Errors
/// As [`read_tensor_file`], or [`Error::File`] if the file is larger than `limit` or not a
/// regular file.
pub fn read_tensors(path: &Path, limit: u64, wanted: impl Fn(&str) -> bool) -> Result<TensorFile> {
    let (file, _) = crate::files::open_regular(path, limit)?;
    // SAFETY: mapped read-only; amalgam replaces files by renaming, never in place.
    let bytes = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| Error::file(path, format!("cannot map: {e}")))?;
    TensorFile::parse(&bytes, wanted).map_err(|e| Error::file(path, e))
}

impl TensorFile {
    /// The file as safetensors bytes, in memory.
    ///
    /// # Errors
    /// A description if a tensor's shape does not match its values.
    pub fn to_bytes(&self) -> std::result::Result<Vec<u8>, String> {
        let (views, metadata) = views(self).map_err(|e| e.to_string())?;
        safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
    }

    /// Parses safetensors `bytes`, keeping the tensors whose names `wanted` accepts (the
    /// others are never copied) and all the metadata. Only F32, U8 and U32 tensors are
    /// accepted.
    ///
    /// # Errors
    /// A description if the bytes are not safetensors or hold another dtype.
    pub fn parse(bytes: &[u8], wanted: impl Fn(&str) -> bool) -> std::result::Result<Self, String> {
        let parsed = SafeTensors::deserialize(bytes)
            .map_err(|e| format!("not a valid safetensors file: {e}"))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a valid safetensors file: {e}"))?;
        let metadata = header
            .metadata()
            .clone()
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
        let mut tensors = BTreeMap::new();
        for (name, view) in parsed.tensors() {
            if !wanted(&name) {
                continue;
            }
            let shape = view.shape().to_vec();
            let data = view.data();
            let values = match view.dtype() {
                Dtype::F32 => Values::F32(bytemuck::pod_collect_to_vec(data)),
                Dtype::U8 => Values::U8(data.to_vec()),
                Dtype::U32 => Values::U32(bytemuck::pod_collect_to_vec(data)),
                other => {
                    return Err(format!(
                        "tensor `{name}` has dtype {other:?}; expected F32, U8 or U32"
                    ));
                }
            };
            tensors.insert(name, HostTensor { shape, values });
        }
        Ok(TensorFile { tensors, metadata })
    }

    /// Removes and returns the tensor `name`.
    ///
    /// # Errors
    /// [`Error::File`] naming `path` (the file this was read from) if it is missing.
    pub fn take(&mut self, name: &str, path: &Path) -> Result<HostTensor> {
        self.tensors
            .remove(name)
            .ok_or_else(|| Error::file(path, format!("tensor `{name}` is missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_files_round_trip_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let mut file = TensorFile::default();
        file.tensors.insert(
            "a".into(),
            HostTensor::f32(vec![2, 3], vec![0.5, -1.0, 2.0, 3.0, f32::MIN, 1e-30]),
        );
        file.tensors.insert(
            "b".into(),
            HostTensor {
                shape: vec![4],
                values: Values::U8(vec![0, 1, 255, 7]),
            },
        );
        file.metadata.insert("k".into(), "v".into());
        write_tensor_file(&path, &file).unwrap();
        assert_eq!(read_tensor_file(&path).unwrap(), file);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn truncated_files_are_rejected_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let mut file = TensorFile::default();
        file.tensors
            .insert("a".into(), HostTensor::f32(vec![64], vec![1.0; 64]));
        write_tensor_file(&path, &file).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
        let err = read_tensor_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("t.safetensors") && err.contains("not a valid safetensors"),
            "{err}"
        );
    }
}
