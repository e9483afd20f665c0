//! The SIMD kernels of the index: the one inner product everything in the coordinator uses
//! (compiled for the widest vector instructions the CPU has, detected at run time), the 8-bit
//! codes and their product with a query, and the cache-line prefetch of the walk.

/// 4-byte words per 64-byte cache line.
pub(crate) const LINE_WORDS: usize = 16;

/// Inner product, in 32 independent lanes so the compiler vectorises it.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 32;
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// A query as the walk scores it: its values, their sum (the weight of a code's `low`) and
/// the widest vector instructions this CPU has (AVX2 and FMA where present, detected once).
pub(crate) struct Query<'a> {
    pub(crate) values: &'a [f32],
    pub(crate) sum: f32,
    arch: pulp::Arch,
}

impl<'a> Query<'a> {
    pub(crate) fn new(values: &'a [f32]) -> Self {
        Self {
            values,
            sum: values.iter().sum(),
            arch: pulp::Arch::new(),
        }
    }

    /// The query's inner product with `vector`.
    #[inline]
    pub(crate) fn inner_product(&self, vector: &[f32]) -> f32 {
        self.arch.dispatch(Dot(self.values, vector))
    }

    /// The query's inner product with an 8-bit `code` (not yet scaled by its step).
    #[inline]
    pub(crate) fn code_product(&self, code: &[u8]) -> f32 {
        self.arch.dispatch(DotCode(self.values, code))
    }
}

/// The 8-bit code of `vector` into `code` (`code.len() >= vector.len()`; the rest is zeroed):
/// returns `(low, step)` with `vector[i] ≈ low + step * code[i]`, the error at most `step / 2`.
pub(crate) fn quantize(vector: &[f32], code: &mut [u8]) -> (f32, f32) {
    let low = vector.iter().copied().fold(f32::INFINITY, f32::min);
    let high = vector.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let step = if high > low {
        (high - low) / 255.0
    } else {
        0.0
    };
    code.fill(0);
    if step > 0.0 {
        for (c, &x) in code.iter_mut().zip(vector) {
            *c = ((x - low) / step).round().clamp(0.0, 255.0) as u8;
        }
    }
    (if low.is_finite() { low } else { 0.0 }, step)
}

/// Inner product compiled for the widest vector instructions this CPU has (AVX2 and FMA where
/// present); over the shorter of the two slices.
#[inline]
pub fn inner_product(a: &[f32], b: &[f32]) -> f32 {
    pulp::Arch::new().dispatch(Dot(a, b))
}

/// [`dot`] as a `pulp` operation: inlined into a function compiled for the detected
/// instruction set, so the compiler vectorises it with AVX2 and FMA where present.
struct Dot<'a>(&'a [f32], &'a [f32]);

impl pulp::WithSimd for Dot<'_> {
    type Output = f32;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> f32 {
        dot(self.0, self.1)
    }
}

/// [`dot_code`] as a `pulp` operation (see [`Dot`]).
struct DotCode<'a>(&'a [f32], &'a [u8]);

impl pulp::WithSimd for DotCode<'_> {
    type Output = f32;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> f32 {
        dot_code(self.0, self.1)
    }
}

/// Inner product of `query` with a code, in 32 independent lanes so the compiler vectorises it.
#[inline(always)]
pub(crate) fn dot_code(query: &[f32], code: &[u8]) -> f32 {
    const LANES: usize = 32;
    let (q_chunks, q_rest) = query.as_chunks::<LANES>();
    let (c_chunks, _) = code.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in q_chunks.iter().zip(c_chunks) {
        for i in 0..LANES {
            acc[i] += x[i] * f32::from(y[i]);
        }
    }
    let done = query.len() - q_rest.len();
    let tail: f32 = q_rest
        .iter()
        .zip(code.get(done..).unwrap_or(&[]))
        .map(|(x, &y)| x * f32::from(y))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// Loads one value per cache line of `v` so the memory system fetches the lines of several
/// vectors in parallel before their dot products need them (a prefetch without `unsafe`).
#[inline]
pub(crate) fn touch(words: &[u32]) {
    let mut fold = 0u32;
    for &x in words.iter().step_by(LINE_WORDS) {
        fold ^= x;
    }
    std::hint::black_box(fold);
}
