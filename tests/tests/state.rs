//! State: a round trip into a fresh instance, and blobs that are empty, truncated, random or
//! from a future version (they must fail cleanly or fall back, never crash).

use continuo_host_tests::*;

/// Non-default settings, in the musician's units.
const SETTINGS: &[(&str, &str)] = &[
    ("source", "MIDI"),
    ("midi-thru", "On"),
    ("mode", "Suggest only"),
    ("gap", "2.5"),
    ("yield", "Off"),
    ("grid", "1/8 triplet"),
    ("tempo", "96.5"),
    ("channel", "11"),
    ("transpose", "-7"),
    ("length", "12"),
    ("low", "E2"),
    ("high", "C6"),
    ("candidates", "3"),
    ("learn", "Off"),
    ("neural", "Off"),
    ("scale-lock", "Fixed scale"),
    ("scale", "Dorian"),
];

fn all_values(p: &mut Plugin) -> Vec<(u32, String, f64)> {
    p.params()
        .into_iter()
        .map(|d| (d.hash, d.name.clone(), p.get_hash(d.hash).unwrap()))
        .collect()
}

fn configured(entry: &'static PluginEntry) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    for (id, text) in SETTINGS {
        p.set_text(id, text)
            .unwrap_or_else(|e| panic!("set {id} = {text}: {e}"));
    }
    // Continuous values through their CLAP (normalised) value.
    p.set("temperature", 0.37).unwrap();
    p.set("swing", 0.5).unwrap();
    p.set("density", 0.8).unwrap();
    p
}

fn round_trip(entry: &'static PluginEntry) {
    let mut a = configured(entry);
    for (id, text) in SETTINGS {
        let shown = a.get_text(id).unwrap();
        assert!(
            shown.starts_with(text) || a.value_from_text(id, text).unwrap() == a.get(id).unwrap(),
            "{id} set to {text}, shows {shown}"
        );
    }
    let before = all_values(&mut a);
    let blob = a.save_state().unwrap();
    eprintln!(
        "state: {} bytes: {}",
        blob.len(),
        String::from_utf8_lossy(&blob)
    );
    assert!(!blob.is_empty());

    let mut b = Plugin::new(entry).unwrap();
    let defaults = all_values(&mut b);
    assert_ne!(before, defaults, "the settings are not the defaults");
    b.load_state(&blob).unwrap();
    let after = all_values(&mut b);
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(x.0, y.0);
        assert!(
            (x.2 - y.2).abs() < 1e-6,
            "{} restored: saved {} loaded {}",
            x.1,
            x.2,
            y.2
        );
    }
    // And while active, too (a host loading a project into a running plugin).
    let mut c = Plugin::new(entry).unwrap();
    c.activate(48_000.0, 512).unwrap();
    c.feed(Feed::silence(4096, 512)).unwrap();
    c.load_state(&blob).unwrap();
    c.feed(Feed::silence(4096, 512)).unwrap();
    let active = all_values(&mut c);
    for (x, y) in before.iter().zip(&active) {
        assert!(
            (x.2 - y.2).abs() < 1e-6,
            "{} restored while active: {} vs {}",
            x.1,
            x.2,
            y.2
        );
    }
    // The saved blob of the restored instance is the same state.
    let blob2 = b.save_state().unwrap();
    let mut d = Plugin::new(entry).unwrap();
    d.load_state(&blob2).unwrap();
    assert_eq!(all_values(&mut d), after);
}

/// Loads `blob` into a configured instance: either it fails (values unchanged) or it succeeds
/// (values in range). Then the instance must still save, activate and process.
fn try_blob(entry: &'static PluginEntry, what: &str, blob: &[u8]) {
    let mut p = configured(entry);
    let before = all_values(&mut p);
    let params = p.params();
    let r = p.load_state(blob);
    let after = all_values(&mut p);
    match &r {
        Err(e) => {
            eprintln!("{what}: rejected ({e})");
            assert_eq!(before, after, "{what}: a rejected state changes nothing");
        }
        Ok(()) => {
            let changed = before
                .iter()
                .zip(&after)
                .filter(|(x, y)| x.2 != y.2)
                .count();
            eprintln!("{what}: accepted, {changed} value(s) changed");
        }
    }
    for ((hash, name, v), d) in after.iter().zip(&params) {
        assert_eq!(*hash, d.hash);
        assert!(
            v.is_finite() && *v >= d.min - 1e-9 && *v <= d.max + 1e-9,
            "{what}: {name} = {v} within {}..{}",
            d.min,
            d.max
        );
    }
    p.save_state().unwrap();
    // An accepted state must also run (a rejected one changed nothing: see `bad_blobs`' end).
    if r.is_ok() {
        p.activate(48_000.0, 256).unwrap();
        let fed = p.feed(Feed::silence(8192, 256)).unwrap();
        assert_eq!(fed.errors, 0, "{what}: processes after the load");
    }
}

fn bad_blobs(entry: &'static PluginEntry) {
    let good = configured(entry).save_state().unwrap();
    try_blob(entry, "empty", &[]);
    for cut in [1, good.len() / 3, good.len() / 2, good.len() - 1] {
        try_blob(entry, &format!("truncated to {cut} bytes"), &good[..cut]);
    }
    let mut noise = Noise::new(42);
    for len in [1usize, 7, 64, 1000, 100_000] {
        let blob: Vec<u8> = (0..len)
            .map(|_| (noise.next_f32() * 127.0 + 128.0) as u8)
            .collect();
        try_blob(entry, &format!("{len} random bytes"), &blob);
    }
    // nice-plug's CLAP state: a little-endian u64 length, then the JSON.
    assert!(good.len() > 8);
    let len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    assert_eq!(len, good.len() - 8, "length prefix");
    let text = String::from_utf8_lossy(&good[8..]).into_owned();
    // A wrong length prefix.
    let mut lying = good.clone();
    lying[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    try_blob(entry, "length prefix larger than the data", &lying);
    let mut short = good.clone();
    short[..8].copy_from_slice(&10u64.to_le_bytes());
    try_blob(entry, "length prefix shorter than the data", &short);
    // Valid JSON, wrong shape / types / values / versions.
    let future = text.replacen("\"version\":\"", "\"version\":\"99.", 1);
    let cases: Vec<(&str, String)> = vec![
        ("future version", future),
        (
            "future-version JSON with unknown ids and wrong types",
            r#"{"version":"99.0.0","params":{"gap":"not a number","mode":"no-such-mode","channel":999,"tempo":1e308,"temperature":-5.0,"low":{"nested":true},"brand-new-param":1},"fields":{"preset-name":"\"x\"","future-field":"[1,2,3]"},"format":7}"#.to_string(),
        ),
        (
            "future-version state in nice-plug's format: unknown ids, out-of-range values",
            r#"{"version":"99.0.0","params":{"gap":{"f32":3.0},"brand-new-param":{"f32":1.0},"mode":{"string":"no-such-mode"},"grid":{"string":"1/32"},"channel":{"i32":999},"transpose":{"i32":-1000},"tempo":{"f32":1e30},"temperature":{"f32":-5.0},"source":{"bool":true},"bypass":{"i32":7}},"fields":{"preset-name":"\"Future\"","future-field":"{\"x\":1}"}}"#.to_string(),
        ),
        (
            "preset name that is not JSON",
            r#"{"version":"0.1.0","params":{"gap":{"f32":2.0}},"fields":{"preset-name":"not json at all"}}"#.to_string(),
        ),
        ("JSON null", "null".into()),
        ("JSON array", "[1,2,3]".into()),
        ("empty object", "{}".into()),
        ("params only", r#"{"params":{}}"#.into()),
        ("preset name with a wrong type", r#"{"version":"0.1.0","params":{},"fields":{"preset-name":"42"}}"#.into()),
        ("huge numbers", r#"{"version":"0.1.0","params":{"gap":1e39,"transpose":2147483647,"channel":-2147483648},"fields":{}}"#.into()),
    ];
    // After a series of rejected loads the instance still activates and processes.
    let mut p = configured(entry);
    for blob in [&[][..], &good[..good.len() / 2], b"garbage"] {
        assert!(p.load_state(blob).is_err());
    }
    p.activate(48_000.0, 256).unwrap();
    assert_eq!(p.feed(Feed::silence(8192, 256)).unwrap().errors, 0);
    drop(p);
    for (what, json) in cases {
        let mut blob = (json.len() as u64).to_le_bytes().to_vec();
        blob.extend_from_slice(json.as_bytes());
        try_blob(entry, what, &blob);
    }
}

#[test]
fn state() {
    run_cases(&[("round trip", round_trip), ("bad blobs", bad_blobs)]);
}
