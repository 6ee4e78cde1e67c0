//! Trained weights written by PyTorch's `torch.save` (the PyTorch cloud runtime's `.pt`
//! output, or a user's own loop): `{"state_dict": {name: tensor}, "amalgam.bundle_fingerprint":
//! "<hex>"}`, read with burn's PyTorch checkpoint reader. The file is untrusted: only the
//! tensors asked for are read, each after its type and shape are checked.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use amalgam_core::bundle::FINGERPRINT_KEY;
use amalgam_core::files::MAX_READ_BYTES;
use amalgam_core::model::Weights;
use amalgam_core::tensors::HostTensor;
use amalgam_core::{Error, Result};
use burn::store::pytorch_reader::{DType, PickleValue, PytorchReader};

/// Whether `path` names a `torch.save` file (`.pt` or `.pth`).
pub fn is_torch_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pt" | "pth")
    )
}

/// The bundle fingerprint stored beside the state dict, if any.
///
/// # Errors
/// [`Error::File`] if the file is not a readable PyTorch checkpoint.
pub fn torch_fingerprint(path: &Path) -> Result<Option<String>> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::file(path, format!("is not a readable PyTorch file: {e}"))
    };
    let root = PytorchReader::read_pickle_data(path, None).map_err(|e| fail(&e))?;
    Ok(match root {
        PickleValue::Dict(entries) => match entries.get(FINGERPRINT_KEY) {
            Some(PickleValue::String(f)) => Some(f.clone()),
            _ => None,
        },
        _ => None,
    })
}

/// The f32 tensors `wanted` (name and shape) of the file's `state_dict`.
///
/// # Errors
/// [`Error::File`] naming a tensor that is missing, not f32, mis-shaped or unreadable, or
/// an archive entry whose CRC-32 does not match ([`check_checksums`]).
pub fn torch_tensors<'a>(
    path: &Path,
    wanted: impl IntoIterator<Item = (String, &'a [usize])>,
) -> Result<Weights> {
    check_checksums(path)?;
    let reader = PytorchReader::with_top_level_key(path, "state_dict")
        .map_err(|e| Error::file(path, format!("has no readable `state_dict`: {e}")))?;
    let mut weights = Weights::new();
    for (name, shape) in wanted {
        let tensor = reader
            .get(&name)
            .ok_or_else(|| Error::file(path, format!("tensor `{name}` is missing")))?;
        if tensor.dtype() != DType::F32 || tensor.shape() != shape {
            return Err(Error::file(
                path,
                format!(
                    "`{name}` is {:?} {:?}, expected F32 {shape:?}",
                    tensor.dtype(),
                    tensor.shape()
                ),
            ));
        }
        let bytes = tensor
            .read()
            .map_err(|e| Error::file(path, format!("cannot read `{name}`: {e}")))?;
        let values = bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        weights.insert(name, HostTensor::f32(shape.to_vec(), values));
    }
    Ok(weights)
}

/// Checks the CRC-32 of every entry of the `torch.save` ZIP archive at `path` against the
/// checksum its header declares, streaming (no entry is held in memory). burn's reader reads
/// tensor data at its offset in the file and never checks it, so without this one flipped
/// byte of trained weights would be extracted silently. An entry declaring a CRC of 0 is
/// skipped: `torch.save(..., _use_new_zipfile_serialization=True)` with `compute_crc32=False`
/// writes 0 for every entry, and `torch.load` accepts it (such a file has no checksums to
/// check).
///
/// # Errors
/// [`Error::File`] naming the entry whose checksum fails, an archive that cannot be read,
/// or entries declaring more than [`MAX_READ_BYTES`] in all.
pub fn check_checksums(path: &Path) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::file(path, format!("is not a sound PyTorch archive: {e}"))
    };
    let file = File::open(path).map_err(|e| fail(&e))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| fail(&e))?;
    let mut declared = 0u64;
    for index in 0..archive.len() {
        let (name, crc32, size) = {
            let entry = archive.by_index_raw(index).map_err(|e| fail(&e))?;
            (
                entry.name().map_err(|e| fail(&e))?.to_string(),
                entry.crc32(),
                entry.size(),
            )
        };
        declared = declared.saturating_add(size);
        if declared > MAX_READ_BYTES {
            return Err(fail(&format!(
                "its entries declare more than {MAX_READ_BYTES} bytes"
            )));
        }
        if crc32 == 0 {
            continue;
        }
        let mut entry = archive
            .by_index_with_options(index, zip::read::ZipReadOptions::new())
            .map_err(|e| fail(&e))?;
        io::copy(&mut entry, &mut io::sink()).map_err(|e| {
            Error::file(
                path,
                format!("entry `{name}` does not match its CRC-32 (the file is corrupt): {e}"),
            )
        })?;
    }
    Ok(())
}
