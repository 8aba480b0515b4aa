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
    /// (symbol, count, child): the child is the node of this context extended by the symbol (the
    /// context one order longer that ends with it), or [`NO_NODE`]. Child links let a prediction
    /// one note later walk from node to node instead of hashing every context again.
    entries: Vec<(u16, u32, u32)>,
    /// For contexts followed by many different symbols: `index[sym]` = position in `entries` + 1
    /// (0 = not seen), so prediction can walk the few candidate targets instead of every entry.
    index: Vec<u16>,
}

/// "No such node" in [`Node::entries`] child links and in [`Walk`].
const NO_NODE: u32 = u32::MAX;

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

    /// Counts `sym`; returns whether it was a new entry.
    fn add(&mut self, sym: u16, n: u32) -> bool {
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
                false
            }
            None => {
                if n == 1 {
                    self.singletons += 1;
                }
                self.entries.push((sym, n, NO_NODE));
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
                true
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

/// The contexts of one history that a [`Ppm`] has counts for: `nodes[k]` is the node of the
/// context made of the last `k` symbols, for every `k < len` (matching contexts always form such
/// a run from the empty context up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    len: u8,
    nodes: [u32; MAX_ORDER_LIMIT + 1],
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            len: 0,
            nodes: [NO_NODE; MAX_ORDER_LIMIT + 1],
        }
    }
}

impl Walk {
    /// The longest matching order (-1 when not even the empty context has counts).
    pub fn longest(&self) -> i32 {
        self.len as i32 - 1
    }
}

/// Symbol counts of one viewpoint after every context up to `max_order` symbols long.
#[derive(Debug, Clone)]
pub struct Ppm {
    max_order: usize,
    map: KeyMap,
    nodes: Vec<Node>,
    /// The node of the empty context.
    root: u32,
    /// Whether every context's prefix (the context without its newest symbol) is stored too and
    /// lists that symbol, so [`Ppm::step`] finds every matching context by following
    /// the child links of [`Node::entries`]. True when melodies are counted in order, as training and online
    /// learning do; out-of-order `add`s may clear it, and `step` then declines.
    prefix_closed: bool,
}

impl Ppm {
    pub fn new(max_order: usize) -> Self {
        Self {
            max_order: max_order.min(MAX_ORDER_LIMIT),
            map: KeyMap::default(),
            nodes: Vec::new(),
            root: NO_NODE,
            prefix_closed: true,
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
        self.root = NO_NODE;
        self.prefix_closed = true;
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
            self.add_at(key, sym, 1, true);
        }
    }

    /// Counts `sym` `n` times after the context `key`. With `link`, keeps the child links up to
    /// date (import links everything once at the end instead).
    fn add_at(&mut self, key: u128, sym: u16, n: u32, link: bool) {
        let next = self.nodes.len() as u32;
        let idx = *self.map.entry(key).or_insert(next);
        let created = idx == next;
        if created {
            self.nodes.push(Node::default());
            if key == 0 {
                self.root = idx;
            }
        }
        let new_entry = self.nodes[idx as usize].add(sym, n);
        if !link {
            return;
        }
        let order = (key & 0xf) as usize;
        if created && order > 0 {
            self.link_to_parent(key, idx);
        }
        if new_entry && order < self.max_order {
            // A longer context ending in `sym` may already exist (only when counts come out of
            // order): link it.
            let child = ((((key >> 4) << 12) | sym as u128) << 4) | (order + 1) as u128;
            if let Some(&c) = self.map.get(&child) {
                let node = &mut self.nodes[idx as usize];
                if let Some(e) = node.entries.last_mut() {
                    e.2 = c;
                }
            }
        }
    }

    /// Links node `idx` (context `key`, order ≥ 1) from its prefix context's entry for its newest
    /// symbol; when there is no such entry the model is no longer prefix-closed.
    fn link_to_parent(&mut self, key: u128, idx: u32) {
        let order = key & 0xf;
        let syms = key >> 4;
        let newest = (syms & 0xfff) as u16;
        let parent = ((syms >> 12) << 4) | (order - 1);
        let found = self.map.get(&parent).and_then(|&p| {
            let p = p as usize;
            self.nodes[p].find(newest).map(|i| (p, i))
        });
        match found {
            Some((p, i)) => self.nodes[p].entries[i].2 = idx,
            None => self.prefix_closed = false,
        }
    }

    /// Links every context from its prefix (after an import). Contexts are grouped by prefix
    /// first so each prefix is looked up once.
    fn relink(&mut self) {
        let mut links: Vec<(u128, u16, u32)> = self
            .map
            .iter()
            .filter(|(&k, _)| k & 0xf > 0)
            .map(|(&k, &i)| {
                let syms = k >> 4;
                (
                    (((syms >> 12) << 4) | ((k & 0xf) - 1)),
                    (syms & 0xfff) as u16,
                    i,
                )
            })
            .collect();
        links.sort_unstable_by_key(|l| l.0);
        for group in links.chunk_by(|a, b| a.0 == b.0) {
            let Some(&p) = self.map.get(&group[0].0) else {
                self.prefix_closed = false;
                continue;
            };
            let parent = &mut self.nodes[p as usize];
            for &(_, sym, idx) in group {
                match parent.find(sym) {
                    Some(i) => parent.entries[i].2 = idx,
                    None => self.prefix_closed = false,
                }
            }
        }
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

    /// The contexts of `ctx` (oldest symbol first) that have counts, looked up by hashing.
    pub fn walk(&self, ctx: &[u16], out: &mut Walk) {
        out.len = 0;
        // Find the matching contexts from the shortest up: a context is only ever stored with all
        // its suffixes (pruning drops rarer, hence longer, ones first), so the first miss ends it.
        let top = self.max_order.min(ctx.len());
        for order in 0..=top {
            let Some(&idx) = context_key(ctx, order).and_then(|key| self.map.get(&key)) else {
                break;
            };
            out.nodes[order] = idx;
            out.len = order as u8 + 1;
        }
    }

    /// The walk of a history one symbol (`sym`) longer than the one `prev` was made for, by
    /// following the child links: gives what [`Ppm::walk`] would, without hashing. Returns false
    /// (and leaves `out` alone) when the model is not prefix-closed; use `walk` then.
    pub fn step(&self, prev: &Walk, sym: u16, out: &mut Walk) -> bool {
        if !self.prefix_closed {
            return false;
        }
        out.len = 0;
        if self.root == NO_NODE {
            return true;
        }
        out.nodes[0] = self.root;
        out.len = 1;
        // Context of order k+1 now = context of order k before, extended by `sym`; a context is
        // stored only if its prefix is, so the first missing link ends the run.
        let top = (prev.len as usize).min(self.max_order);
        for k in 0..top {
            let node = &self.nodes[prev.nodes[k] as usize];
            let Some(i) = node.find(sym) else { break };
            let c = node.entries[i].2;
            if c == NO_NODE {
                break;
            }
            out.nodes[k + 1] = c;
            out.len = k as u8 + 2;
        }
        true
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
        let mut walk = Walk::default();
        self.walk(ctx, &mut walk);
        self.predict_walk(&walk, escape, map, inverse, out)
    }

    /// [`Ppm::predict`] for the contexts found by [`Ppm::walk`] or [`Ppm::step`].
    #[inline]
    pub fn predict_walk<F: Fn(u16) -> Option<usize>, G: Fn(usize) -> u16>(
        &self,
        walk: &Walk,
        escape: Escape,
        map: F,
        inverse: G,
        out: &mut [f64],
    ) -> i32 {
        out.iter_mut().for_each(|p| *p = 0.0);
        let mut weight = 1.0;
        for order in (0..walk.len as usize).rev() {
            let node = &self.nodes[walk.nodes[order] as usize];
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
                for &(sym, c, _) in &node.entries {
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
        walk.longest()
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
            let mut entries: Vec<(u16, u32)> = node.entries.iter().map(|e| (e.0, e.1)).collect();
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
                ppm.add_at(key, s as u16, c, false);
                i += 2;
            }
        }
        ppm.relink();
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

    /// Walks every prefix of `seq` both ways: stepping from the previous walk must find exactly
    /// the contexts hashing finds.
    fn assert_steps_like_walks(ppm: &Ppm, seq: &[u16]) -> usize {
        let mut prev = Walk::default();
        ppm.walk(&[], &mut prev);
        let mut longest = 0;
        for i in 1..=seq.len() {
            let (mut hashed, mut stepped) = (Walk::default(), Walk::default());
            ppm.walk(&seq[..i], &mut hashed);
            assert!(ppm.step(&prev, seq[i - 1], &mut stepped));
            assert_eq!(stepped.len, hashed.len, "prefix {i}");
            assert_eq!(
                stepped.nodes[..stepped.len as usize],
                hashed.nodes[..hashed.len as usize]
            );
            longest = longest.max(hashed.longest());
            prev = stepped;
        }
        longest as usize
    }

    #[test]
    fn stepping_finds_the_same_contexts_as_hashing() {
        // Two melodies learnt in order (an undefined symbol starts the second, like an interval
        // viewpoint's first note), then walked along seen and unseen sequences.
        let mut ppm = Ppm::new(3);
        let a = [1u16, 2, 3, 1, 2, 4, 1, 2, 3, 3, 2, 1];
        let b = [UNDEFINED, 5, 2, 3, 1, 2, 5];
        for seq in [&a[..], &b[..]] {
            for i in 0..seq.len() {
                ppm.add(&seq[..i], seq[i]);
            }
        }
        assert!(ppm.prefix_closed);
        assert_eq!(assert_steps_like_walks(&ppm, &a), 3);
        assert_eq!(assert_steps_like_walks(&ppm, &b[1..]), 3);
        assert_steps_like_walks(&ppm, &[1, 2, 9, 2, 3, UNDEFINED, 3, 1, 2, 3, 3]);
        // The same after an export / import, pruned or not.
        for (from, min) in [(usize::MAX, 0), (2, 2), (1, 3)] {
            let back = Ppm::import(3, 16, &ppm.export(from, min)).unwrap();
            assert!(back.prefix_closed);
            assert_steps_like_walks(&back, &a);
            assert_steps_like_walks(&back, &[1, 2, 3, 3, 2, 1, 2, 4, 1]);
        }
        // Counts added out of order: a context whose prefix was never seen. Stepping declines.
        let mut odd = Ppm::new(2);
        odd.add(&[7, 8], 9);
        assert!(!odd.prefix_closed);
        assert!(!odd.step(&Walk::default(), 8, &mut Walk::default()));
        // A context added before its prefix's entry still gets linked once the entry comes.
        let mut late = Ppm::new(2);
        late.add(&[4], 5);
        late.add(&[], 4);
        late.add(&[3], 4);
        let mut w = Walk::default();
        late.walk(&[3], &mut w);
        let mut stepped = Walk::default();
        assert!(!late.step(&w, 4, &mut stepped));
        let mut w0 = Walk::default();
        late.walk(&[], &mut w0);
        let node = &late.nodes[w0.nodes[0] as usize];
        let i = node.find(4).unwrap();
        assert_ne!(node.entries[i].2, NO_NODE);
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
