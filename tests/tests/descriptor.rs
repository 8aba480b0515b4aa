//! The bundle as a host first sees it: descriptor, ports, parameters.

use continuo_host_tests::*;

fn descriptor(entry: &'static PluginEntry) {
    let all = descriptors(entry);
    assert_eq!(all.len(), 1, "one plugin in the bundle: {all:?}");
    let d = &all[0];
    eprintln!("{d:#?}");
    assert_eq!(d.id, "org.continuo.continuo");
    assert_eq!(d.name, "Continuo");
    assert!(!d.vendor.is_empty(), "vendor is set");
    assert!(
        d.version.split('.').count() >= 2 && d.version.chars().next().unwrap().is_ascii_digit(),
        "version looks like x.y.z: {:?}",
        d.version
    );
    for f in ["note-effect", "analyzer"] {
        assert!(
            d.features.iter().any(|x| x == f),
            "feature {f} in {:?}",
            d.features
        );
    }
}

fn ports(entry: &'static PluginEntry) {
    let mut p = Plugin::new(entry).unwrap();
    let (ain, aout) = p.audio_ports();
    eprintln!("audio in {ain:?}\naudio out {aout:?}");
    assert_eq!(ain.len(), 1, "one main audio input");
    assert_eq!(aout.len(), 1, "one main audio output");
    assert_eq!(ain[0].channels, 2, "stereo by default");
    assert_eq!(aout[0].channels, 2, "stereo by default");
    let (nin, nout) = p.note_ports();
    eprintln!("note in {nin:?}\nnote out {nout:?}");
    assert_eq!(nin.len(), 1, "one note input port");
    assert_eq!(nout.len(), 1, "one note output port");
}

fn params(entry: &'static PluginEntry) {
    let mut p = Plugin::new(entry).unwrap();
    let params = p.params();
    for d in &params {
        eprintln!(
            "{:>10} {:<20} {:<12} {}..{} default {}",
            d.hash, d.name, d.module, d.min, d.max, d.default
        );
    }
    let ids = [
        "bypass",
        "source",
        "midi-thru",
        "temperature",
        "top-p",
        "learn",
        "neural",
        "scale-lock",
        "tonic",
        "scale",
        "length",
        "density",
        "low",
        "high",
        "candidates",
        "mode",
        "gap",
        "yield",
        "play",
        "grid",
        "swing",
        "tempo",
        "channel",
        "velocity",
        "transpose",
        "length-scale",
        "articulation",
        "fixed-velocity",
        "dynamics",
        "tempo-source",
    ];
    for id in ids {
        let h = param_hash(id);
        let d = params
            .iter()
            .find(|d| d.hash == h)
            .unwrap_or_else(|| panic!("parameter {id:?} (hash {h}) is listed"));
        let v = p.get(id).unwrap_or_else(|| panic!("value of {id}"));
        assert!(
            (d.default - v).abs() < 1e-9,
            "{id}: value {v} is the default {}",
            d.default
        );
    }
    let known: Vec<u32> = ids.iter().map(|id| param_hash(id)).collect();
    for d in params.iter().filter(|d| !known.contains(&d.hash)) {
        eprintln!(
            "note: parameter {:?} ({}) is not in this test's list",
            d.name, d.hash
        );
    }
    // Every hash is unique (nice-plug would refuse duplicates, but the ids are our contract).
    let mut hashes: Vec<u32> = params.iter().map(|d| d.hash).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), params.len(), "unique parameter ids");
    let bypass = params
        .iter()
        .find(|d| d.hash == param_hash("bypass"))
        .unwrap();
    assert!(bypass.bypass, "bypass is flagged as the host's bypass");
    // Values in the musician's units, through the plugin's own parser.
    assert!((p.value_from_text("channel", "3").unwrap() - 2.0).abs() < 1e-5);
    assert!((p.value_from_text("source", "MIDI").unwrap() - 1.0).abs() < 1e-5);
    assert_eq!(p.get_text("mode").as_deref(), Some("Call & response"));
    p.set_text("channel", "3").unwrap();
    assert_eq!(p.get_text("channel").as_deref(), Some("3"));
}

#[test]
fn descriptor_ports_params() {
    run_cases(&[
        ("descriptor", descriptor),
        ("ports", ports),
        ("params", params),
    ]);
}
