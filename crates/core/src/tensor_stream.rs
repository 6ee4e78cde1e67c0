//! Safetensors files written piece by piece: the header is computed up front from the tensors'
//! names, types and shapes, then the values are appended in order, so a file far larger than
//! memory can be produced chunk by chunk. Readers see an ordinary safetensors file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::files::{PUBLIC_MODE, create_atomic_with};
use crate::tensors::ValuesView;
use crate::{Error, Result};

/// Element type of a streamed tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamDtype {
    /// 32-bit floats.
    F32,
    /// 16-bit floats (IEEE 754 half precision).
    F16,
    /// Bytes.
    U8,
    /// 32-bit unsigned integers.
    U32,
}

impl StreamDtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            StreamDtype::F32 | StreamDtype::U32 => 4,
            StreamDtype::F16 => 2,
            StreamDtype::U8 => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            StreamDtype::F32 => "F32",
            StreamDtype::F16 => "F16",
            StreamDtype::U8 => "U8",
            StreamDtype::U32 => "U32",
        }
    }

    /// The safetensors element type.
    pub fn safetensors(self) -> safetensors::tensor::Dtype {
        match self {
            StreamDtype::F32 => safetensors::tensor::Dtype::F32,
            StreamDtype::F16 => safetensors::tensor::Dtype::F16,
            StreamDtype::U8 => safetensors::tensor::Dtype::U8,
            StreamDtype::U32 => safetensors::tensor::Dtype::U32,
        }
    }

    fn of(values: &ValuesView<'_>) -> Self {
        match values {
            ValuesView::F32(_) => StreamDtype::F32,
            ValuesView::F16(_) => StreamDtype::F16,
            ValuesView::U8(_) => StreamDtype::U8,
            ValuesView::U32(_) => StreamDtype::U32,
        }
    }
}

/// A tensor of a streamed file: name, element type, shape. Tensors are stored in the order
/// given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTensor {
    /// Name in the file.
    pub name: String,
    /// Element type.
    pub dtype: StreamDtype,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
}

impl StreamTensor {
    fn bytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.size()
    }
}

/// Where the values of a streamed file go: call [`write`](Self::write) with consecutive pieces
/// of each tensor, in the declared order.
pub struct TensorSink<'a> {
    out: BufWriter<&'a mut File>,
    tensors: &'a [StreamTensor],
    path: &'a Path,
    /// Index of the tensor being written and bytes of it written so far.
    current: usize,
    written: usize,
}

impl TensorSink<'_> {
    /// Appends `values` to the tensor being written (moving on to the next one when it is
    /// full).
    ///
    /// # Errors
    /// [`Error::File`] naming the output if the values overrun the declared tensors, have
    /// another type, or cannot be written.
    pub fn write(&mut self, values: ValuesView<'_>) -> Result<()> {
        let bytes: &[u8] = match values {
            ValuesView::F32(v) => bytemuck::cast_slice(v),
            ValuesView::F16(v) => bytemuck::cast_slice(v),
            ValuesView::U8(v) => v,
            ValuesView::U32(v) => bytemuck::cast_slice(v),
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some(tensor) = self.tensors.get(self.current) else {
                return Err(Error::file(
                    self.path,
                    "more values than the declared tensors hold",
                ));
            };
            if tensor.dtype != StreamDtype::of(&values) {
                return Err(Error::file(
                    self.path,
                    format!(
                        "tensor `{}` is {}, not {:?}",
                        tensor.name,
                        tensor.dtype.name(),
                        StreamDtype::of(&values)
                    ),
                ));
            }
            let take = rest.len().min(tensor.bytes() - self.written);
            self.out
                .write_all(&rest[..take])
                .map_err(|e| Error::file(self.path, format!("cannot write: {e}")))?;
            rest = &rest[take..];
            self.written += take;
            self.skip_full();
        }
        Ok(())
    }

    /// Moves past full (and empty) tensors.
    fn skip_full(&mut self) {
        while self
            .tensors
            .get(self.current)
            .is_some_and(|t| self.written == t.bytes())
        {
            self.current += 1;
            self.written = 0;
        }
    }
}

/// Writes the safetensors file `path` atomically: the header for `tensors` and `metadata`,
/// then whatever `fill` writes into the sink, which must be exactly the declared values.
///
/// # Errors
/// `fill`'s errors as they are; [`Error::File`] naming `path` if it cannot be written or
/// `fill` wrote too few values.
pub fn write_tensor_stream(
    path: &Path,
    tensors: &[StreamTensor],
    metadata: &BTreeMap<String, String>,
    fill: impl FnOnce(&mut TensorSink<'_>) -> Result<()>,
) -> Result<()> {
    let header = header(tensors, metadata);
    create_atomic_with(path, PUBLIC_MODE, |file, _| {
        let mut sink = TensorSink {
            out: BufWriter::with_capacity(1 << 20, file),
            tensors,
            path,
            current: 0,
            written: 0,
        };
        sink.out
            .write_all(&(header.len() as u64).to_le_bytes())
            .and_then(|()| sink.out.write_all(&header))
            .map_err(|e| Error::file(path, format!("cannot write: {e}")))?;
        sink.skip_full();
        fill(&mut sink)?;
        if sink.current < tensors.len() {
            return Err(Error::file(
                path,
                format!(
                    "tensor `{}` was not completely written",
                    tensors[sink.current].name
                ),
            ));
        }
        sink.out
            .flush()
            .map_err(|e| Error::file(path, format!("cannot write: {e}")))
    })
}

/// The JSON header, padded with spaces to a multiple of 8 bytes so that every tensor's values
/// stay aligned.
fn header(tensors: &[StreamTensor], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut entries = serde_json::Map::new();
    if !metadata.is_empty() {
        entries.insert("__metadata__".into(), json!(metadata));
    }
    let mut offset = 0;
    for t in tensors {
        let end = offset + t.bytes();
        entries.insert(
            t.name.clone(),
            json!({"dtype": t.dtype.name(), "shape": t.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut header = serde_json::to_vec(&Value::Object(entries)).expect("a header always encodes");
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensors::{Values, read_tensor_file};

    #[test]
    fn streamed_files_read_back_as_safetensors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.safetensors");
        let tensors = [
            StreamTensor {
                name: "b.x".into(),
                dtype: StreamDtype::F32,
                shape: vec![3, 2],
            },
            StreamTensor {
                name: "a.y".into(),
                dtype: StreamDtype::U8,
                shape: vec![3],
            },
            StreamTensor {
                name: "c.z".into(),
                dtype: StreamDtype::U32,
                shape: vec![2],
            },
        ];
        let metadata = [("k".to_string(), "v".to_string())].into();
        write_tensor_stream(&path, &tensors, &metadata, |sink| {
            sink.write(ValuesView::F32(&[1.0, 2.0]))?;
            sink.write(ValuesView::F32(&[3.0, 4.0, 5.0, 6.0]))?;
            sink.write(ValuesView::U8(&[7, 8, 9]))?;
            sink.write(ValuesView::U32(&[10, 11]))
        })
        .unwrap();
        let file = read_tensor_file(&path).unwrap();
        assert_eq!(file.metadata["k"], "v");
        assert_eq!(
            file.tensors["b.x"].values,
            Values::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
        assert_eq!(file.tensors["b.x"].shape, [3, 2]);
        assert_eq!(file.tensors["a.y"].values, Values::U8(vec![7, 8, 9]));
        assert_eq!(file.tensors["c.z"].values, Values::U32(vec![10, 11]));
    }

    #[test]
    fn short_or_long_streams_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.safetensors");
        let tensors = [StreamTensor {
            name: "x".into(),
            dtype: StreamDtype::U8,
            shape: vec![4],
        }];
        let short = write_tensor_stream(&path, &tensors, &BTreeMap::new(), |sink| {
            sink.write(ValuesView::U8(&[1, 2]))
        });
        assert!(
            short
                .unwrap_err()
                .to_string()
                .contains("not completely written")
        );
        let long = write_tensor_stream(&path, &tensors, &BTreeMap::new(), |sink| {
            sink.write(ValuesView::U8(&[1, 2, 3, 4, 5]))
        });
        assert!(long.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
