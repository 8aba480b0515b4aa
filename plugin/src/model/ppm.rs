//! Variable-order Markov models with PPM-style interpolated smoothing (Cleary & Witten; the
//! "blending" used by IDyOM). One [`Ppm`] counts the symbols of one viewpoint after every context
//! of length 0..=max_order; a prediction mixes all matching orders from the longest down, each
//! order handing the escape probability to the next shorter one, ending in a uniform distribution.

use super::viewpoints::UNDEFINED;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The longest context a context key can hold (12 bits per symbol in a `u128`).
pub const MAX_ORDER_LIMIT: usize = 9;

/// How much probability a context keeps for symbols it has not seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Escape {
    /// PPM-C (Moffat): escape count = number of distinct symbols seen.
    C,
    /// PPM-X (Witten & Bell): escape count = number of symbols seen exactly once (+1).
    X,
}

/// Counts after one context.
#[derive(Debug, Clone, Default)]
struct Node {
    total: u32,
    singletons: u32,
    entries: Vec<(u16, u32)>,
    /// For contexts followed by many different symbols: `index[sym]` = position in `entries` + 1
    /// (0 = not seen), so prediction can walk the few candidate targets instead of every entry.
    index: Vec<u16>,
}

/// Contexts with at least this many distinct symbols get an `index`.
const INDEX_AT: usize = 16;

impl Node {
    #[inline]
    fn find(&self, sym: u16) -> Option<usize> {
        if self.index.is_empty() {
            self.entries.iter().position(|e| e.0 == sym)
        } else {
            match self.index.get(sym as usize) {
                Some(&i) if i > 0 => Some(i as usize - 1),
                _ => None,
            }
        }
    }

    fn add(&mut self, sym: u16, n: u32) {
        self.total += n;
        match self.find(sym) {
            Some(i) => {
                let e = &mut self.entries[i];
                if e.1 == 1 {
                    self.singletons -= 1;
                }
                e.1 += n;
                if e.1 == 1 {
                    self.singletons += 1;
                }
            }
            None => {
                if n == 1 {
                    self.singletons += 1;
                }
                self.entries.push((sym, n));
                if !self.index.is_empty() {
                    if self.index.len() <= sym as usize {
                        self.index.resize(sym as usize + 1, 0);
                    }
                    self.index[sym as usize] = self.entries.len() as u16;
                } else if self.entries.len() >= INDEX_AT {
                    let max = self.entries.iter().map(|e| e.0).max().unwrap_or(0) as usize;
                    self.index = vec![0; max + 1];
                    for (i, e) in self.entries.iter().enumerate() {
                        self.index[e.0 as usize] = i as u16 + 1;
                    }
                }
            }
        }
    }

    #[inline]
    fn escape(&self, escape: Escape) -> f64 {
        match escape {
            Escape::C => self.entries.len() as f64,
            Escape::X => self.singletons as f64 + 1.0,
        }
    }
}

/// A small, fast hasher for the `u128` context keys (multiply-fold; the keys are not adversarial).
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    #[inline]
    fn write_u128(&mut self, v: u128) {
        let x = (v as u64) ^ ((v >> 64) as u64).rotate_left(31) ^ self.0;
        self.0 = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }
}

type KeyMap = HashMap<u128, u32, BuildHasherDefault<KeyHasher>>;

/// The key of the context made of the last `order` symbols of `ctx`, or `None` when the context is
/// shorter than that or contains an undefined symbol.
#[inline]
pub fn context_key(ctx: &[u16], order: usize) -> Option<u128> {
    if order > ctx.len() || order > MAX_ORDER_LIMIT {
        return None;
    }
    let mut k: u128 = 0;
    for &s in &ctx[ctx.len() - order..] {
        if s == UNDEFINED || s >= 4096 {
            return None;
        }
        k = (k << 12) | s as u128;
    }
    Some((k << 4) | order as u128)
}

/// Symbol counts of one viewpoint after every context up to `max_order` symbols long.
#[derive(Debug, Clone)]
pub struct Ppm {
    max_order: usize,
    map: KeyMap,
    nodes: Vec<Node>,
}

impl Ppm {
    pub fn new(max_order: usize) -> Self {
        Self {
            max_order: max_order.min(MAX_ORDER_LIMIT),
            map: KeyMap::default(),
            nodes: Vec::new(),
        }
    }

    pub fn max_order(&self) -> usize {
        self.max_order
    }

    /// Number of contexts with counts.
    pub fn contexts(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.nodes.clear();
    }

    /// Counts `sym` after every suffix of `ctx` (the symbols before it, oldest first).
    pub fn add(&mut self, ctx: &[u16], sym: u16) {
        if sym == UNDEFINED {
            return;
        }
        for order in 0..=self.max_order {
            let Some(key) = context_key(ctx, order) else {
                break;
            };
            self.add_at(key, sym, 1);
        }
    }

    fn add_at(&mut self, key: u128, sym: u16, n: u32) {
        let next = self.nodes.len() as u32;
        let idx = *self.map.entry(key).or_insert(next);
        if idx == next {
            self.nodes.push(Node::default());
        }
        self.nodes[idx as usize].add(sym, n);
    }

    /// The count of `sym` after exactly the context of the last `order` symbols of `ctx`.
    pub fn count(&self, ctx: &[u16], order: usize, sym: u16) -> u32 {
        context_key(ctx, order)
            .and_then(|k| self.map.get(&k))
            .and_then(|&i| {
                let node = &self.nodes[i as usize];
                node.find(sym).map(|j| node.entries[j].1)
            })
            .unwrap_or(0)
    }

    /// The smoothed distribution over targets after `ctx`, written to `out` (which it overwrites and
    /// normalises). `map` turns a symbol into an index of `out` or `None` when that symbol cannot
    /// occur next. Returns the longest order that matched (-1 when none did).
    #[inline]
    pub fn predict<F: Fn(u16) -> Option<usize>, G: Fn(usize) -> u16>(
        &self,
        ctx: &[u16],
        escape: Escape,
        map: F,
        inverse: G,
        out: &mut [f64],
    ) -> i32 {
        out.iter_mut().for_each(|p| *p = 0.0);
        let mut weight = 1.0;
        let mut longest = -1;
        // Find the matching contexts from the shortest up: a context is only ever stored with all
        // its suffixes (pruning drops rarer, hence longer, ones first), so the first miss ends it.
        let top = self.max_order.min(ctx.len());
        let mut found = [0u32; MAX_ORDER_LIMIT + 1];
        let mut n_found = 0;
        for order in 0..=top {
            let Some(&idx) = context_key(ctx, order).and_then(|key| self.map.get(&key)) else {
                break;
            };
            found[order] = idx;
            n_found = order + 1;
        }
        for order in (0..n_found).rev() {
            let node = &self.nodes[found[order] as usize];
            if longest < 0 {
                longest = order as i32;
            }
            let q = node.escape(escape);
            let denom = node.total as f64 + q;
            let w = weight / denom;
            if !node.index.is_empty() && out.len() < node.entries.len() {
                // Many entries: look up each target's symbol instead.
                for (t, p) in out.iter_mut().enumerate() {
                    if let Some(i) = node.find(inverse(t)) {
                        *p += w * node.entries[i].1 as f64;
                    }
                }
            } else {
                for &(sym, c) in &node.entries {
                    if let Some(t) = map(sym) {
                        if let Some(p) = out.get_mut(t) {
                            *p += w * c as f64;
                        }
                    }
                }
            }
            weight *= q / denom;
        }
        let n = out.len().max(1) as f64;
        let u = weight / n;
        let mut sum = 0.0;
        for p in out.iter_mut() {
            *p += u;
            sum += *p;
        }
        if sum > 0.0 {
            let inv = 1.0 / sum;
            out.iter_mut().for_each(|p| *p *= inv);
        }
        longest
    }

    /// Flat export, sorted for determinism: per context `[order, ctx symbols.., n, (sym, count)..]`.
    /// Contexts of order ≥ `prune_from_order` seen fewer than `min_count` times are left out.
    pub fn export(&self, prune_from_order: usize, min_count: u32) -> Vec<u32> {
        let mut keys: Vec<(u128, u32)> = self.map.iter().map(|(&k, &i)| (k, i)).collect();
        keys.sort_unstable();
        let mut out = Vec::new();
        for (key, idx) in keys {
            let node = &self.nodes[idx as usize];
            let order = (key & 0xf) as usize;
            if order >= prune_from_order && node.total < min_count {
                continue;
            }
            out.push(order as u32);
            for i in (0..order).rev() {
                out.push(((key >> (4 + 12 * i)) & 0xfff) as u32);
            }
            let mut entries = node.entries.clone();
            entries.sort_unstable();
            out.push(entries.len() as u32);
            for (s, c) in entries {
                out.push(s as u32);
                out.push(c);
            }
        }
        out
    }

    /// Rebuilds from [`Ppm::export`] output; `alphabet` bounds the symbols. Errors name the offset.
    pub fn import(max_order: usize, alphabet: usize, flat: &[u32]) -> Result<Self, String> {
        let mut ppm = Ppm::new(max_order);
        let mut i = 0;
        let mut ctx = Vec::with_capacity(MAX_ORDER_LIMIT);
        let get = |i: usize| {
            flat.get(i)
                .copied()
                .ok_or_else(|| format!("truncated at {i}"))
        };
        while i < flat.len() {
            let order = get(i)? as usize;
            if order > ppm.max_order {
                return Err(format!(
                    "context order {order} above the maximum {} at {i}",
                    ppm.max_order
                ));
            }
            i += 1;
            ctx.clear();
            for _ in 0..order {
                let s = get(i)? as usize;
                if s >= alphabet {
                    return Err(format!("symbol {s} outside the alphabet at {i}"));
                }
                ctx.push(s as u16);
                i += 1;
            }
            let key = context_key(&ctx, order).ok_or_else(|| format!("bad context at {i}"))?;
            let n = get(i)? as usize;
            i += 1;
            if n > alphabet {
                return Err(format!("{n} entries for an alphabet of {alphabet} at {i}"));
            }
            if ppm.map.contains_key(&key) {
                return Err(format!("duplicate context at {i}"));
            }
            for _ in 0..n {
                let (s, c) = (get(i)? as usize, get(i + 1)?);
                if s >= alphabet || c == 0 {
                    return Err(format!("bad entry ({s}, {c}) at {i}"));
                }
                ppm.add_at(key, s as u16, c);
                i += 2;
            }
        }
        Ok(ppm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: u16) -> Option<usize> {
        Some(s as usize)
    }

    fn inv(t: usize) -> u16 {
        t as u16
    }

    #[test]
    fn counts_and_backoff() {
        let mut ppm = Ppm::new(2);
        let seq = [1u16, 2, 3, 1, 2, 4];
        for i in 0..seq.len() {
            ppm.add(&seq[..i], seq[i]);
        }
        assert_eq!(ppm.count(&[], 0, 1), 2);
        assert_eq!(ppm.count(&[1], 1, 2), 2);
        assert_eq!(ppm.count(&[1, 2], 2, 3), 1);
        assert_eq!(ppm.count(&[1, 2], 2, 4), 1);
        let mut out = [0.0; 8];
        // Seen context: longest order 2.
        assert_eq!(ppm.predict(&[1, 2], Escape::C, ident, inv, &mut out), 2);
        assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(out[3] > out[5] && out[4] > out[5]);
        // Unseen context backs off to order 0; undefined symbols are skipped.
        assert_eq!(ppm.predict(&[7, 7], Escape::X, ident, inv, &mut out), 0);
        assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(out.iter().all(|&p| p > 0.0));
        assert_eq!(
            ppm.predict(&[UNDEFINED], Escape::C, ident, inv, &mut out),
            0
        );
        // Empty model: uniform.
        assert_eq!(
            Ppm::new(3).predict(&[1], Escape::C, ident, inv, &mut out),
            -1
        );
        assert!(out.iter().all(|&p| (p - 0.125).abs() < 1e-12));
    }

    #[test]
    fn indexed_contexts_predict_like_small_ones() {
        // 40 distinct symbols after the empty context: indexed; a window of 24 targets takes the
        // per-target path, one of 64 the per-entry path. Both must match the formula.
        let mut ppm = Ppm::new(0);
        for s in 0..40u16 {
            for _ in 0..(s % 3 + 1) {
                ppm.add(&[], s);
            }
        }
        let total: f64 = (0..40).map(|s| (s % 3 + 1) as f64).sum();
        for n in [24usize, 64] {
            let mut out = vec![0.0; n];
            let offset = 10; // targets are symbols shifted by 10
            ppm.predict(
                &[],
                Escape::C,
                |s| (s as usize).checked_sub(offset),
                |t| (t + offset) as u16,
                &mut out,
            );
            let raw: Vec<f64> = (0..n)
                .map(|t| {
                    let s = t + offset;
                    let c = if s < 40 { (s % 3 + 1) as f64 } else { 0.0 };
                    c / (total + 40.0) + 40.0 / (total + 40.0) / n as f64
                })
                .collect();
            let z: f64 = raw.iter().sum();
            for (a, b) in out.iter().zip(raw.iter()) {
                assert!((a - b / z).abs() < 1e-12, "{n}: {a} vs {}", b / z);
            }
        }
        assert_eq!(ppm.count(&[], 0, 39), 1);
        assert_eq!(ppm.count(&[], 0, 38), 3);
    }

    #[test]
    fn export_import_round_trip() {
        let mut ppm = Ppm::new(3);
        let seq = [5u16, 6, 5, 6, 7, 5, 6, 5];
        for i in 0..seq.len() {
            ppm.add(&seq[..i], seq[i]);
        }
        let flat = ppm.export(usize::MAX, 0);
        let back = Ppm::import(3, 8, &flat).unwrap();
        assert_eq!(back.export(usize::MAX, 0), flat);
        assert!(Ppm::import(3, 6, &flat).is_err());
        assert!(Ppm::import(3, 8, &flat[..flat.len() - 1]).is_err());
        assert!(Ppm::import(1, 8, &flat).is_err());
        let pruned = ppm.export(1, 2);
        assert!(pruned.len() < flat.len());
    }
}
