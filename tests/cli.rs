//! The `aisle` command line, run as a user would.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

fn aisle(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aisle");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn tmp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("aisle-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn info_on_the_real_model() {
    let Some(_) = model_bytes() else { return };
    let o = aisle(&["info", model_path().to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "architecture: llama",
        "layers: 30",
        "heads: 9 (KV heads: 3",
        "Q4_1    210 tensors",
        "Q8_0      1 tensors",
        "tied embeddings: true",
        "49152 tokens",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn info_on_bad_files_is_an_error_line_not_a_panic() {
    let good = tiny_model(TinyConfig::default(), 5);
    let mut bad_magic = good.clone();
    bad_magic[..4].copy_from_slice(b"GGML");
    let mut other_arch = GgufWriter::default();
    other_arch.kv("general.architecture", aisle::gguf::Value::String("mamba".into()));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.gguf", good[..good.len() / 2].to_vec(), "beyond the end"),
        ("magic.gguf", bad_magic, "not a GGUF file"),
        ("empty.gguf", vec![], "truncated"),
        ("mamba.gguf", other_arch.to_bytes(), "unsupported architecture \"mamba\""),
    ];
    for (name, bytes, expect) in cases {
        let p = tmp(name, &bytes);
        let o = aisle(&["info", p.to_str().unwrap()], None);
        let err = stderr(&o);
        assert!(!o.status.success(), "{name} accepted");
        assert!(err.starts_with("error: ") && err.contains(expect), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let o = aisle(&["info", "/nonexistent/model.gguf"], None);
    assert!(!o.status.success() && stderr(&o).starts_with("error: cannot read"));
}

#[test]
fn tokenize_reads_stdin_and_prints_ids() {
    let Some(_) = model_bytes() else { return };
    let m = model_path();
    let o = aisle(&["tokenize", "--model", m.to_str().unwrap()], Some("<|im_start|>user 12"));
    assert!(o.status.success(), "{}", stderr(&o));
    let plain: Vec<u32> = serde_json::from_str(stdout(&o).trim()).unwrap();
    let o = aisle(&["tokenize", "--model", m.to_str().unwrap(), "--special"], Some("<|im_start|>user 12"));
    let special: Vec<u32> = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(special[0], 1);
    assert!(!plain.contains(&1));
    assert_eq!(&special[special.len() - 2..], &[33, 34], "digits split one by one");
}

#[test]
fn generate_json_matches_reference_greedy() {
    let Some(_) = model_bytes() else { return };
    let greedy = read_json("f32/greedy.json");
    let p = &greedy["prompts"][1]; // science_gift: large margins for its first 32 tokens
    assert_eq!(p["id"], "science_gift");
    let msgs = tmp("msgs.json", serde_json::to_string(&p["messages"]).unwrap().as_bytes());
    for dev in ["cpu", "gpu"] {
        let o = aisle(
            &[
                "generate",
                "--model",
                model_path().to_str().unwrap(),
                "--messages",
                msgs.to_str().unwrap(),
                "--max-tokens",
                "16",
                "--device",
                dev,
                "--json",
            ],
            None,
        );
        assert!(o.status.success(), "{dev}: {}", stderr(&o));
        let out = stdout(&o);
        assert_eq!(out.lines().count(), 1, "{dev}: --json prints one line: {out}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(ids(&v["prompt_tokens"]), ids(&p["prompt_ids"]));
        assert_eq!(ids(&v["tokens"]), ids(&p["gen_ids"])[..16].to_vec(), "{dev}");
        assert!(v["text"].as_str().unwrap().starts_with("A "), "{dev}: {}", v["text"]);
        assert!(v["prefill_tps"].as_f64().unwrap() > 0.0 && v["decode_tps"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn generate_streams_plain_text_and_rejects_bad_options() {
    let Some(_) = model_bytes() else { return };
    let m = model_path();
    let o = aisle(
        &[
            "generate",
            "--model",
            m.to_str().unwrap(),
            "--prompt",
            "Name a fruit.",
            "--max-tokens",
            "8",
            "--device",
            "cpu",
            "--temperature",
            "0.7",
            "--top-k",
            "40",
            "--top-p",
            "0.9",
            "--seed",
            "3",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let first = stdout(&o);
    assert!(!first.trim().is_empty());
    let again = aisle(
        &[
            "generate",
            "--model",
            m.to_str().unwrap(),
            "--prompt",
            "Name a fruit.",
            "--max-tokens",
            "8",
            "--device",
            "cpu",
            "--temperature",
            "0.7",
            "--top-k",
            "40",
            "--top-p",
            "0.9",
            "--seed",
            "3",
        ],
        None,
    );
    assert_eq!(stdout(&again), first, "same seed, same text");
    assert!(stderr(&o).contains("tok/s"));

    let o = aisle(&["generate", "--model", m.to_str().unwrap(), "--prompt", "x", "--top-p", "0"], None);
    assert!(!o.status.success() && stderr(&o).contains("top_p"), "{}", stderr(&o));
    let o = aisle(&["generate", "--model", m.to_str().unwrap(), "--prompt", "x", "--device", "tpu"], None);
    assert!(!o.status.success() && stderr(&o).contains("unknown device"), "{}", stderr(&o));
    let bad = tmp("bad_msgs.json", b"{\"role\": 1}");
    let o = aisle(&["generate", "--model", m.to_str().unwrap(), "--messages", bad.to_str().unwrap()], None);
    assert!(!o.status.success() && stderr(&o).contains("expected an array"), "{}", stderr(&o));
}

#[test]
fn converse_json_prints_one_line_per_message_with_the_documented_keys() {
    let Some(_) = model_bytes() else { return };
    let catalog = repo().join("demo/catalog.json");
    let policies = repo().join("demo/policies.json");
    let model = model_path();
    let args = [
        "converse",
        "--model",
        model.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
        "--policies",
        policies.to_str().unwrap(),
        "--device",
        "cpu",
        "--json",
    ];
    let messages = "noise cancelling headphones\nsomething cheaper\nhow much does the first one weigh?\n\ncompare the two\nHow many days do I have to return an item?\nthanks\n";
    let o = aisle(&args, Some(messages));
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "one line per message (the blank one is skipped)");
    for l in &lines {
        let mut keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["kind", "passage", "products", "text"], "{l}");
    }
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["suggest", "suggest", "product", "compare", "answer", "none"]);
    let ids = |i: usize| -> Vec<String> { serde_json::from_value(lines[i]["products"].clone()).unwrap() };
    let catalog_text = std::fs::read_to_string(&catalog).unwrap();
    for i in 0..lines.len() {
        for id in ids(i) {
            assert!(catalog_text.contains(&format!("\"{id}\"")), "{id} is not in the catalog");
        }
    }
    // The weight is the catalog's own value for the product named.
    assert_eq!(ids(2).len(), 1);
    assert_eq!(ids(2)[0], ids(1)[0], "\"the first one\" is the first of the list just shown");
    assert!(lines[4]["passage"].as_str().is_some_and(|p| p.starts_with("returns")), "{}", lines[4]);
}

#[test]
fn catalog_import_writes_a_catalog_and_reports_what_it_skipped() {
    let feeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/feeds");
    let (en, de) = (feeds.join("google-rss.xml"), feeds.join("google-atom-de.xml"));
    let out = std::env::temp_dir().join(format!("aisle-import-{}.json", std::process::id()));
    let o = aisle(
        &[
            "catalog",
            "import",
            en.to_str().unwrap(),
            &format!("de={}", de.display()),
            "--lang",
            "en",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report = stderr(&o);
    assert!(report.contains("kept 4 products in all") && report.contains("bag-polar"), "{report}");
    let catalog =
        aisle::shop::Catalog::parse(&std::fs::read_to_string(&out).unwrap()).expect("a catalog the assistant reads");
    assert_eq!(catalog.get("kettle-17").unwrap().title_in("de"), "Wasserkocher aus Stahl 1,7 l");
    std::fs::remove_file(&out).ok();

    let not_a_feed = tmp("notes.txt", b"just some notes\n");
    let o = aisle(&["catalog", "import", not_a_feed.to_str().unwrap()], None);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a product feed"), "{}", stderr(&o));
    let o = aisle(&["catalog", "import", en.to_str().unwrap(), "--format", "rss"], None);
    assert!(!o.status.success() && stderr(&o).contains("--format"), "{}", stderr(&o));
}

/// `suggest` with the sentence encoder (beside the model, as `make setup` puts it): a need
/// told in German without one catalog word finds the blankets by meaning; words alone find
/// nothing; a named product the shop lacks stays "we don't sell that".
#[test]
fn suggest_finds_a_need_by_meaning_and_stays_honest() {
    let (Some(_), Some(_)) = (model_bytes(), encoder_bytes()) else { return };
    let cache = std::env::temp_dir().join(format!("aisle-cli-vectors-{}", std::process::id()));
    let run = |request: &str, extra: &[&str]| -> serde_json::Value {
        let (m, catalog) = (model_path(), repo().join("demo/catalog.json"));
        let mut args =
            vec!["suggest", "--model", m.to_str().unwrap(), "--catalog", catalog.to_str().unwrap(), "--device", "cpu"];
        args.extend_from_slice(&["--request", request, "--json"]);
        args.extend_from_slice(extra);
        let o = Command::new(env!("CARGO_BIN_EXE_aisle")).args(&args).env("AISLE_CACHE", &cache).output().unwrap();
        assert!(o.status.success(), "{request}: {}", stderr(&o));
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap()
    };
    let products = |v: &serde_json::Value| -> Vec<String> {
        v["products"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
    };
    let need = "Abends auf dem Sofa friere ich im Winter immer";
    let found = products(&run(need, &[]));
    assert!(found.iter().any(|p| p == "hom-001" || p == "hom-002"), "{found:?}");
    assert!(std::fs::read_dir(cache.join("vectors")).unwrap().count() == 1, "product vectors kept");
    assert_eq!(products(&run(need, &[])), found, "the kept vectors give the same answer");
    assert!(products(&run(need, &["--encoder", "none"])).is_empty(), "words alone do not find it");
    let absent = run("do you have a robot vacuum? the dog hair is everywhere", &[]);
    assert!(products(&absent).is_empty(), "{absent}");
    let _ = std::fs::remove_dir_all(&cache);
}

/// `converse` with the sentence encoder: a service question whose words barely meet the
/// policies' (German) is answered from the passage meaning finds; words alone take it for a
/// product search. A product request stays a search.
#[test]
fn converse_answers_a_service_question_by_meaning_in_any_language() {
    let (Some(_), Some(_)) = (model_bytes(), encoder_bytes()) else { return };
    let turn = |message: &str, extra: &[&str]| -> serde_json::Value {
        let (m, catalog, policies) =
            (model_path(), repo().join("demo/catalog.json"), repo().join("demo/policies.json"));
        let mut args = vec!["converse", "--model", m.to_str().unwrap(), "--catalog", catalog.to_str().unwrap()];
        args.extend_from_slice(&["--policies", policies.to_str().unwrap(), "--device", "cpu", "--json"]);
        args.extend_from_slice(extra);
        let o = aisle(&args, Some(&format!("{message}\n")));
        assert!(o.status.success(), "{message}: {}", stderr(&o));
        serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap()
    };
    let returns = turn("请问怎么申请退货？", &[]);
    assert_eq!(returns["kind"], "answer", "{returns}");
    assert!(returns["passage"].as_str().is_some_and(|p| p.starts_with("returns")), "{returns}");
    let abroad = turn("Liefert ihr auch nach Deutschland?", &[]);
    assert_eq!((&abroad["kind"], &abroad["passage"]), (&"answer".into(), &"shipping-international".into()), "{abroad}");
    assert!(abroad["text"].as_str().unwrap().contains("24,95"), "the German text of the passage: {abroad}");
    let words = turn("Liefert ihr auch nach Deutschland?", &["--encoder", "none"]);
    assert_eq!(words["kind"], "suggest", "words alone: {words}");
    // Words alone find the Chinese one since a request's lone character ("申" of "申请", cut
    // by the stop character "请") meets the passage title's bigrams.
    let words = turn("请问怎么申请退货？", &["--encoder", "none"]);
    assert_eq!((&words["kind"], &words["passage"]), (&"answer".into(), &"returns-how".into()), "words alone: {words}");
    let blanket = turn("a cozy blanket", &[]);
    assert_eq!(blanket["kind"], "suggest", "{blanket}");
}
