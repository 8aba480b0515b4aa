//! The neural next-note model's network: the inputs it sees for one step, its weights, and one
//! GRU step plus the two output heads in plain `f32` Rust (inference needs no tensor crate; the
//! training in [`super::train`] writes the same weights).
//!
//! One step reads the previous note (pitch above the tonic, scale degree, rhythm class, onset
//! phase, the interval from the note before it), the mode and the onset phase of the note to
//! predict, all as one-hot groups, and — in a style-conditioned network — the style chosen (one
//! of [`STYLE_NAMES`] or "no style"); it predicts the next note's pitch above the tonic (140
//! classes, the [`super::super::viewpoints::Viewpoint::TonicPitch`] range) and its rhythm class.

use crate::model::note::{Event, N_PHASE, N_RHYTHM};
use crate::music::{KeySignature, Mode};

/// Pitch-above-tonic classes: `pitch - tonic + 12` for every MIDI pitch and tonic 0..=11.
pub const N_REL: usize = 140;
/// Largest interval (semitones) with its own input; larger ones share the two end classes.
pub const MAX_STEP: i32 = 12;
/// Interval classes: -12..=12 (clipped) and "no interval" (the first or second note).
const N_STEP: usize = 2 * MAX_STEP as usize + 2;

/// Where each one-hot group starts in the input vector, and its size. The last class of the
/// "previous note" groups stands for "no previous note" (a melody's first step).
pub const IN_REL: usize = 0;
pub const IN_RHYTHM: usize = IN_REL + N_REL + 1;
pub const IN_PHASE: usize = IN_RHYTHM + N_RHYTHM + 1;
pub const IN_NEXT_PHASE: usize = IN_PHASE + N_PHASE + 1;
pub const IN_DEGREE: usize = IN_NEXT_PHASE + N_PHASE;
pub const IN_MODE: usize = IN_DEGREE + 13;
pub const IN_STEP: usize = IN_MODE + 2;
/// Input size (one-hot, [`N_ACTIVE`] ones).
pub const N_INPUT: usize = IN_STEP + N_STEP;
/// Inputs that are 1 in every step (one per group).
pub const N_ACTIVE: usize = 7;

/// The styles a style-conditioned network knows, in input order (the bundled styles but Blend;
/// see README *Styles*). A styled network has [`N_STYLE`] more inputs after [`N_INPUT`]: one
/// per style and a last one, "no style", for Blend, Auto and the user's own styles.
pub const STYLE_NAMES: [&str; 4] = ["Chorale", "Fiddle", "Airs", "Renaissance"];
/// Style inputs of a styled network: the four styles and "no style".
pub const N_STYLE: usize = STYLE_NAMES.len() + 1;
/// The "no style" input's index among the style inputs.
pub const NO_STYLE: u8 = STYLE_NAMES.len() as u8;

/// The style input of a bundled style's name (case-insensitive); `None` for Blend, Auto, a
/// user style or anything else (those use the "no style" input).
pub fn style_index(name: &str) -> Option<u8> {
    let name = name.trim();
    STYLE_NAMES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(name))
        .map(|i| i as u8)
}

/// The pitch-above-tonic class of `pitch` in `key`.
pub fn rel_class(pitch: u8, key: KeySignature) -> usize {
    (pitch as i32 - (key.tonic % 12) as i32 + 12) as usize
}

/// The MIDI pitch of class `rel` in `key`, when there is one.
pub fn pitch_of_rel(rel: usize, key: KeySignature) -> Option<u8> {
    let p = rel as i32 - 12 + (key.tonic % 12) as i32;
    (0..128).contains(&p).then_some(p as u8)
}

/// The active inputs of the step that predicts the note after `events` (whose onset phase is
/// `next_phase`), in `key`.
pub fn inputs(events: &[Event], next_phase: u8, key: KeySignature) -> [u16; N_ACTIVE] {
    let prev = events.last();
    let before = events.len().checked_sub(2).map(|i| events[i]);
    let mode = match key.mode {
        Mode::Major => 0,
        Mode::Minor => 1,
    };
    let (rel, rhythm, phase, degree) = match prev {
        Some(e) => (
            rel_class(e.pitch, key),
            (e.rhythm as usize).min(N_RHYTHM - 1),
            (e.phase as usize) % N_PHASE,
            key.degree(e.pitch) as usize,
        ),
        None => (N_REL, N_RHYTHM, N_PHASE, 12),
    };
    let step = match (before, prev) {
        (Some(b), Some(e)) => {
            ((e.pitch as i32 - b.pitch as i32).clamp(-MAX_STEP, MAX_STEP) + MAX_STEP) as usize
        }
        _ => N_STEP - 1,
    };
    [
        (IN_REL + rel) as u16,
        (IN_RHYTHM + rhythm) as u16,
        (IN_PHASE + phase) as u16,
        (IN_NEXT_PHASE + (next_phase as usize % N_PHASE)) as u16,
        (IN_DEGREE + degree) as u16,
        (IN_MODE + mode) as u16,
        (IN_STEP + step) as u16,
    ]
}

/// The network's size (stored in the weights file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetShape {
    /// Hidden units of the GRU.
    pub hidden: usize,
    /// Input size: [`N_INPUT`], or [`N_INPUT`] + [`N_STYLE`] for a style-conditioned network
    /// (a file made for other inputs is refused).
    pub inputs: usize,
}

impl NetShape {
    /// A network without style inputs (the format's first networks).
    pub fn new(hidden: usize) -> Self {
        Self {
            hidden,
            inputs: N_INPUT,
        }
    }

    /// A style-conditioned network: [`N_STYLE`] more inputs after the note's.
    pub fn styled(hidden: usize) -> Self {
        Self {
            hidden,
            inputs: N_INPUT + N_STYLE,
        }
    }

    /// Whether the network has the style inputs.
    pub fn has_style(&self) -> bool {
        self.inputs == N_INPUT + N_STYLE
    }

    /// The weight tensors in file order: name and shape (rows, columns).
    pub fn tensors(&self) -> [(&'static str, usize, usize); 8] {
        let h = self.hidden;
        [
            ("w_ih", 3 * h, self.inputs),
            ("w_hh", 3 * h, h),
            ("b_ih", 1, 3 * h),
            ("b_hh", 1, 3 * h),
            ("w_pitch", N_REL, h),
            ("b_pitch", 1, N_REL),
            ("w_rhythm", N_RHYTHM, h),
            ("b_rhythm", 1, N_RHYTHM),
        ]
    }

    /// Number of weights.
    pub fn parameters(&self) -> usize {
        self.tensors().iter().map(|(_, r, c)| r * c).sum()
    }
}

/// The weights, laid out for inference (allocated once, at load).
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// The sizes (private: the weight vectors below are sized by it).
    shape: NetShape,
    /// Input weights transposed: `w_ih_t[i * 3h ..][..3h]` is input `i`'s column (gates r, z,
    /// n), so a one-hot input is a sum of [`N_ACTIVE`] rows.
    w_ih_t: Vec<f32>,
    /// Recurrent weights, row-major (3h rows of h), PyTorch/candle gate order r, z, n.
    w_hh: Vec<f32>,
    b_ih: Vec<f32>,
    b_hh: Vec<f32>,
    /// Pitch head, row-major (N_REL rows of h), and its bias.
    w_pitch: Vec<f32>,
    b_pitch: Vec<f32>,
    /// Rhythm head, row-major (N_RHYTHM rows of h), and its bias.
    w_rhythm: Vec<f32>,
    b_rhythm: Vec<f32>,
}

/// Scratch space of one step (allocated once per predictor).
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    /// Input-side gate sums (3h).
    gi: Vec<f32>,
    /// Recurrent-side gate sums (3h).
    gh: Vec<f32>,
}

impl Net {
    /// From tensors in [`NetShape::tensors`] order, row-major as trained (candle layout).
    pub fn from_tensors(shape: NetShape, tensors: Vec<Vec<f32>>) -> Result<Self, String> {
        let spec = shape.tensors();
        if tensors.len() != spec.len() {
            return Err(format!(
                "{} weight tensors, expected {}",
                tensors.len(),
                spec.len()
            ));
        }
        for ((name, r, c), t) in spec.iter().zip(&tensors) {
            if t.len() != r * c {
                return Err(format!(
                    "tensor {name} has {} values, expected {r} x {c}",
                    t.len()
                ));
            }
            if t.iter().any(|x| !x.is_finite()) {
                return Err(format!("tensor {name} holds a non-finite value"));
            }
        }
        let mut it = tensors.into_iter();
        let w_ih = it.next().unwrap_or_default();
        let (g, n_in) = (3 * shape.hidden, shape.inputs);
        let mut w_ih_t = vec![0.0; g * n_in];
        for row in 0..g {
            for col in 0..n_in {
                w_ih_t[col * g + row] = w_ih[row * n_in + col];
            }
        }
        let mut next = || it.next().unwrap_or_default();
        Ok(Self {
            shape,
            w_ih_t,
            w_hh: next(),
            b_ih: next(),
            b_hh: next(),
            w_pitch: next(),
            b_pitch: next(),
            w_rhythm: next(),
            b_rhythm: next(),
        })
    }

    /// The tensors in [`NetShape::tensors`] order, row-major (what [`Net::from_tensors`] takes).
    pub fn to_tensors(&self) -> Vec<Vec<f32>> {
        let (g, n_in) = (3 * self.shape.hidden, self.shape.inputs);
        vec![
            rows_from_columns(&self.w_ih_t, g, n_in),
            self.w_hh.clone(),
            self.b_ih.clone(),
            self.b_hh.clone(),
            self.w_pitch.clone(),
            self.b_pitch.clone(),
            self.w_rhythm.clone(),
            self.b_rhythm.clone(),
        ]
    }

    pub fn shape(&self) -> NetShape {
        self.shape
    }

    pub fn hidden(&self) -> usize {
        self.shape.hidden
    }

    /// Whether the network has style inputs ([`NetShape::styled`]).
    pub fn has_style(&self) -> bool {
        self.shape.has_style()
    }

    /// One GRU step: `h_out` = GRU(`h`, one-hot `active`), with no style (the "no style" input
    /// of a styled network). No allocation once `scratch` is warm.
    pub fn step(
        &self,
        h: &[f32],
        active: &[u16; N_ACTIVE],
        scratch: &mut Scratch,
        h_out: &mut [f32],
    ) {
        self.step_styled(h, active, None, scratch, h_out);
    }

    /// [`Net::step`] with the style input `style` ([`style_index`]; `None` or an unknown index is
    /// "no style"). A network without style inputs ignores it.
    pub fn step_styled(
        &self,
        h: &[f32],
        active: &[u16; N_ACTIVE],
        style: Option<u8>,
        scratch: &mut Scratch,
        h_out: &mut [f32],
    ) {
        let hd = self.shape.hidden;
        let g = 3 * hd;
        scratch.gi.clear();
        scratch.gi.extend_from_slice(&self.b_ih);
        let style_input = self
            .has_style()
            .then(|| (N_INPUT + style.unwrap_or(NO_STYLE).min(NO_STYLE) as usize) as u16);
        for &i in active.iter().chain(style_input.as_ref()) {
            let col = &self.w_ih_t[i as usize * g..][..g];
            for (s, &w) in scratch.gi.iter_mut().zip(col) {
                *s += w;
            }
        }
        scratch.gh.clear();
        scratch.gh.extend_from_slice(&self.b_hh);
        add_matvec(&self.w_hh, h, &mut scratch.gh);
        let (gi, gh) = (&scratch.gi, &scratch.gh);
        for j in 0..hd {
            let r = sigmoid(gi[j] + gh[j]);
            let z = sigmoid(gi[hd + j] + gh[hd + j]);
            let n = (gi[2 * hd + j] + r * gh[2 * hd + j]).tanh();
            h_out[j] = (1.0 - z) * n + z * h[j];
        }
    }

    /// The output heads on state `h`: probabilities of the 140 pitch-above-tonic classes and of
    /// the rhythm classes.
    pub fn heads(&self, h: &[f32], pitch: &mut [f32; N_REL], rhythm: &mut [f32; N_RHYTHM]) {
        let hd = self.shape.hidden;
        debug_assert_eq!(h.len(), hd);
        pitch.copy_from_slice(&self.b_pitch);
        add_matvec(&self.w_pitch, h, pitch);
        rhythm.copy_from_slice(&self.b_rhythm);
        add_matvec(&self.w_rhythm, h, rhythm);
        softmax(pitch);
        softmax(rhythm);
    }
}

/// `out[r] += w_r · h` for every row `w_r` of `w` (rows of `h.len()` weights), each sum as
/// [`dot`] makes it. Where the CPU has AVX2 the same code is compiled for it (checked at run
/// time): eight lanes in one register instead of two, the same additions in the same order (no
/// fused multiply-add), so the results are identical on every machine.
pub(super) fn add_matvec(w: &[f32], h: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { add_matvec_avx2(w, h, out) };
        return;
    }
    add_matvec_portable(w, h, out);
}

#[inline(always)]
fn add_matvec_portable(w: &[f32], h: &[f32], out: &mut [f32]) {
    if h.is_empty() {
        return;
    }
    for (row, o) in w.chunks_exact(h.len()).zip(out.iter_mut()) {
        *o += dot(row, h);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_matvec_avx2(w: &[f32], h: &[f32], out: &mut [f32]) {
    add_matvec_portable(w, h, out);
}

/// Dot product in eight running sums (lets the compiler vectorise it).
#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// The logistic function.
#[inline]
pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax in place.
pub fn softmax(v: &mut [f32]) {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    let inv = 1.0 / s;
    v.iter_mut().for_each(|x| *x *= inv);
}

/// A `rows × cols` matrix stored column by column (`t[col * rows + row]`, the input weights as
/// inference reads them: one input's column of gate weights at a time), row by row.
pub(super) fn rows_from_columns(t: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    for row in 0..rows {
        for col in 0..cols {
            out[row * cols + col] = t[col * rows + row];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matrix-vector product the network runs (AVX2 where the CPU has it) gives exactly the
    /// portable code's sums, for row lengths with and without a remainder of eight.
    #[test]
    fn matvec_is_the_same_on_every_cpu() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        for cols in [1usize, 7, 8, 13, 192] {
            let rows = 37;
            let w: Vec<f32> = (0..rows * cols).map(|_| next()).collect();
            let h: Vec<f32> = (0..cols).map(|_| next()).collect();
            let start: Vec<f32> = (0..rows).map(|_| next()).collect();
            let (mut fast, mut plain) = (start.clone(), start.clone());
            add_matvec(&w, &h, &mut fast);
            add_matvec_portable(&w, &h, &mut plain);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "{cols} columns");
            assert_ne!(fast, start, "the products were added");
        }
    }

    #[test]
    fn inputs_fall_in_their_groups() {
        let key = KeySignature {
            tonic: 9,
            mode: Mode::Minor,
        };
        let ev = |pitch, rhythm, phase| Event {
            pitch,
            rhythm,
            phase,
        };
        let first = inputs(&[], 0, key);
        assert_eq!(first[0] as usize, IN_REL + N_REL);
        assert_eq!(first[6] as usize, N_INPUT - 1);
        let later = inputs(&[ev(69, 5, 0), ev(100, 15, 11)], 6, key);
        assert_eq!(later[0] as usize, IN_REL + rel_class(100, key));
        assert_eq!(later[1] as usize, IN_RHYTHM + 15);
        assert_eq!(later[3] as usize, IN_NEXT_PHASE + 6);
        assert_eq!(later[5] as usize, IN_MODE + 1);
        // +31 semitones is clipped to +12.
        assert_eq!(later[6] as usize, IN_STEP + 2 * MAX_STEP as usize);
        for k in [KeySignature::default(), key] {
            for p in [0u8, 60, 127] {
                let r = rel_class(p, k);
                assert!(r < N_REL);
                assert_eq!(pitch_of_rel(r, k), Some(p));
            }
        }
        for a in first.iter().chain(&later) {
            assert!((*a as usize) < N_INPUT);
        }
    }
}
