//! `make eval`: the shopping assistant on labelled request sets, with the real model and with
//! retrieval alone, side by side.
//!
//! Sets (tests/eval/):
//! - `shop_eval.json`: our first set over the demo shop, written together with its catalog (it
//!   measures tuning more than understanding), plus service questions;
//! - `demo_natural_eval.json`: natural phrasings over the demo shop, written before tuning;
//! - `vendure_eval.json`: natural requests in English, German and Chinese over Vendure's sample
//!   catalog (a third-party, English-only catalog; `scripts/eval_catalogs.py` fetches and
//!   converts it into `$EVAL_CACHE`);
//! - `commercetools_eval.json`: the same over commercetools' B2C lifestyle sample data (117
//!   home and kitchen products with English and German text; Chinese requests find no Chinese
//!   text in it);
//! - `blind_eval.json`: 30 requests over each of those three catalogs, written and labelled by
//!   someone who saw only the catalogs (not the code, not the other sets), all held out;
//!   `meaning_eval.json`, `blind2_eval.json` and `blind3_eval.json` were written the same way
//!   (blind3 last, on 2026-12-03, after blind2's totals had guided a choice).
//!
//! Each request has a split: `tune` (rows printed, looked at while tuning) or `heldout` (only
//! its totals are printed). Metrics per set and split: hit@3 by language; "nothing fits" said
//! for a request the catalog serves; honest "we don't sell that" for absent items; named
//! products that exist and meet the stated budget; agreement of paired requests (the same
//! request for another recipient or in another language); time and model work per answer.
//!
//! - `dialogue_eval.json`: conversations of 2–4 turns over the same three catalogs (refine,
//!   refer, ask about a product, compare, clarify, policy follow-ups, subject changes, honest
//!   limits), written and labelled by someone who saw only the catalogs, before the dialogue
//!   code existed; a dialogue is right when every turn is.
//!
//!   cargo run --release --example eval [-- --json FILE] [--set NAME] [--show-heldout]
//!   cargo run --release --example eval -- --dialogues   (the conversations alone)
//!   cargo run --release --example eval -- --pmi     (the model as a re-ranker: an experiment)
//!   cargo run --release --example eval -- --pmi-rank  (the model ranking a whole catalog: an experiment)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aisle::shop::route::ANSWER_MIN_RELEVANCE;
use aisle::shop::suggest;
use aisle::shop::{Answer, AssistEvent, Catalog, Policies, Shop, SuggestOptions, Suggestion};
use aisle::{Engine, LoadOptions};
use serde_json::{Value, json};

const SETS: [&str; 8] = [
    "tests/eval/shop_eval.json",
    "tests/eval/demo_natural_eval.json",
    "tests/eval/vendure_eval.json",
    "tests/eval/commercetools_eval.json",
    "tests/eval/blind_eval.json",
    "tests/eval/meaning_eval.json",
    "tests/eval/blind2_eval.json",
    "tests/eval/blind3_eval.json",
];

type Error = Box<dyn std::error::Error>;

#[path = "eval/dialogues.rs"]
mod dialogues;

/// One request's outcome under one mode (with the model, or retrieval alone).
#[derive(Debug, Clone, Default)]
struct Outcome {
    products: Vec<String>,
    ms: f64,
    prefill_tokens: usize,
    scored_tokens: usize,
}

/// A labelled request and its outcomes.
struct Row {
    text: String,
    lang: String,
    split: String,
    relevant: Vec<String>,
    absent: bool,
    max_price: Option<f64>,
    pair: Option<String>,
    /// Both models: the encoder in retrieval, SmolLM2 choosing the reasons.
    model: Outcome,
    /// Retrieval by words and by meaning (the encoder), without SmolLM2.
    encoder: Outcome,
    /// Retrieval by words alone.
    words: Outcome,
}

impl Row {
    fn hit(&self, o: &Outcome) -> bool {
        o.products.iter().take(3).any(|id| self.relevant.contains(id))
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let flag_value = |name: &str| args.iter().skip_while(|a| *a != name).nth(1).cloned();
    let out = flag_value("--json");
    let only = flag_value("--set");
    let show_heldout = args.iter().any(|a| a == "--show-heldout");
    // Retrieval alone (the SmolLM2 pass does not change which products are named): quick.
    let no_model = args.iter().any(|a| a == "--no-model");
    let encoder =
        Arc::new(aisle::encoder::Encoder::from_bytes(&std::fs::read("models/multilingual-e5-small.q4.bin")?)?);
    let bytes = std::fs::read("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
    let device = pollster::block_on(aisle::device::open(aisle::device::DeviceKind::Cpu))?;
    let engine = Arc::new(Engine::load(&bytes, &device, &LoadOptions { max_context: 1024, ..LoadOptions::default() })?);

    if args.iter().any(|a| a == "--pmi") {
        return pmi_experiment(&engine);
    }
    if args.iter().any(|a| a == "--pmi-rank") {
        return pmi_rank_experiment(&engine);
    }
    let mut report = serde_json::Map::new();
    report.insert("dialogues".into(), dialogues::run(&engine, &encoder, only.as_deref(), show_heldout)?);
    let dialogues_only = args.iter().any(|a| a == "--dialogues");
    for (name, set) in load_sets()?.into_iter().filter(|_| !dialogues_only) {
        if only.as_ref().is_some_and(|o| !name.starts_with(o.as_str())) {
            continue;
        }
        let words = Arc::new(load_shop(&set)?);
        let t0 = Instant::now();
        let shop = Arc::new(load_shop(&set)?.with_encoder(encoder.clone()));
        println!(
            "\n## {name} ({} products, embedded in {:.1} s)\n",
            shop.catalog.products.len(),
            t0.elapsed().as_secs_f64()
        );
        let rows = run_requests(&set, &shop, &words, (!no_model).then_some(&engine))?;
        for r in rows.iter().filter(|r| show_heldout || r.split != "heldout") {
            print_row(r);
        }
        let mut summary = serde_json::Map::new();
        for split in ["tune", "heldout", "all"] {
            let part: Vec<&Row> = rows.iter().filter(|r| split == "all" || r.split == split).collect();
            if part.is_empty() {
                continue;
            }
            let m = metrics(&part);
            print_table(&name, split, &m, split != "heldout" || show_heldout);
            summary.insert(split.into(), m);
        }
        let (exist, budget) = grounding(&shop, &rows);
        println!("\nnamed products that exist: {exist} %; within the stated budget: {budget} %");
        summary
            .insert("grounding".into(), json!({"named_products_exist_pct": exist, "within_stated_budget_pct": budget}));
        if set.get("questions").is_some() {
            summary.insert("service".into(), service(&set, &shop, &engine)?);
        }
        report.insert(name, Value::Object(summary));
    }
    if let Some(path) = out {
        if let Some(dir) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, serde_json::to_string_pretty(&Value::Object(report))?)?;
    }
    Ok(())
}

/// Every set with its name; a file of several sets (`"sets": [...]`, one per catalog) gives
/// one named `file-catalog` each.
fn load_sets() -> Result<Vec<(String, Value)>, Error> {
    let mut out = Vec::new();
    for path in SETS {
        let file: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let name = file["name"].as_str().unwrap_or("ours").to_string();
        match file["sets"].as_array() {
            Some(sets) => {
                for set in sets {
                    out.push((format!("{name}-{}", set["catalog_name"].as_str().unwrap_or("?")), set.clone()));
                }
            }
            None => out.push((name, file)),
        }
    }
    Ok(out)
}

/// The set's catalog (a path, `$EVAL_CACHE/...` for fetched third-party ones) and policies.
fn load_shop(set: &Value) -> Result<Shop, Error> {
    let cache = std::env::var("EVAL_CACHE").unwrap_or_else(|_| "target/eval".into());
    let path = set["catalog"].as_str().ok_or("a set needs a catalog")?.replace("$EVAL_CACHE", &cache);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!("{path}: {e} (third-party catalogs come from scripts/eval_catalogs.py; run `make eval`)")
    })?;
    let catalog = Catalog::parse(&text)?;
    let policies = match set["policies"].as_str() {
        Some(p) => Some(Policies::parse(&std::fs::read_to_string(p)?)?),
        None => None,
    };
    Ok(Shop::new(catalog, policies))
}

fn run_requests(set: &Value, shop: &Arc<Shop>, words: &Shop, engine: Option<&Arc<Engine>>) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    for r in set["requests"].as_array().ok_or("a set needs requests")? {
        let text = r["text"].as_str().ok_or("a request needs text")?.to_string();
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
        };
        let retrieve = |shop: &Shop| {
            let t0 = Instant::now();
            let plan = suggest::plan(shop, &text, None, &SuggestOptions::default());
            Outcome {
                products: plan.candidates.iter().take(3).cloned().collect(),
                ms: t0.elapsed().as_secs_f64() * 1e3,
                ..Outcome::default()
            }
        };
        let (encoder, words) = (retrieve(shop), retrieve(words));
        let model = match engine {
            Some(engine) => with_model(shop, engine, &text)?,
            None => encoder.clone(),
        };
        rows.push(Row {
            lang: r["lang"].as_str().unwrap_or("en").into(),
            split: r["split"].as_str().unwrap_or("tune").into(),
            relevant: strings(&r["relevant"]),
            absent: r["absent"].as_bool().unwrap_or(false),
            max_price: r["max_price"].as_f64(),
            pair: r["pair"].as_str().map(String::from),
            text,
            model,
            encoder,
            words,
        });
    }
    Ok(rows)
}

fn with_model(shop: &Arc<Shop>, engine: &Arc<Engine>, text: &str) -> Result<Outcome, Error> {
    let t0 = Instant::now();
    let mut s = Suggestion::new(engine.clone(), shop.clone(), text, None, SuggestOptions::default())?;
    let mut products = Vec::new();
    while let Some(e) = pollster::block_on(s.next())? {
        if let AssistEvent::Product { id } = e {
            products.push(id);
        }
    }
    let work = s.work();
    Ok(Outcome {
        products,
        ms: t0.elapsed().as_secs_f64() * 1e3,
        prefill_tokens: work.prefill_tokens,
        scored_tokens: work.scored_tokens,
    })
}

fn print_row(r: &Row) {
    let verdict = |o: &Outcome| match (r.absent, o.products.is_empty(), r.hit(o)) {
        (true, true, _) => "honest",
        (true, false, _) => "NOT HONEST",
        (false, true, _) => "NOTHING",
        (false, false, true) => "hit",
        (false, false, false) => "miss",
    };
    println!(
        "{:<58} encoder {:<10} {:?}  | words {:<10} {:?}",
        r.text,
        verdict(&r.encoder),
        r.encoder.products,
        verdict(&r.words),
        r.words.products
    );
}

fn pct(a: usize, b: usize) -> Value {
    if b == 0 { Value::Null } else { json!((1000.0 * a as f64 / b as f64).round() / 10.0) }
}

/// The metrics of one mode over `rows`.
fn mode_metrics(rows: &[&Row], pick: impl Fn(&Row) -> &Outcome) -> Value {
    let present: Vec<&&Row> = rows.iter().filter(|r| !r.absent).collect();
    let absent: Vec<&&Row> = rows.iter().filter(|r| r.absent).collect();
    let hits = present.iter().filter(|r| r.hit(pick(r))).count();
    let mut by_lang: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in &present {
        let e = by_lang.entry(r.lang.as_str()).or_default();
        e.0 += 1;
        e.1 += r.hit(pick(r)) as usize;
    }
    let nothing = present.iter().filter(|r| pick(r).products.is_empty()).count();
    let honest = absent.iter().filter(|r| pick(r).products.is_empty()).count();
    let mut pairs: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.absent) {
        if let Some(p) = &r.pair {
            pairs.entry(p.as_str()).or_default().push(r.hit(pick(r)));
        }
    }
    let agreeing = pairs.values().filter(|v| v.iter().all(|&h| h == v[0])).count();
    let failing: Vec<&str> = pairs.iter().filter(|(_, v)| v.iter().any(|&h| h != v[0])).map(|(k, _)| *k).collect();
    let mut ms: Vec<f64> = rows.iter().map(|r| pick(r).ms).collect();
    ms.sort_by(f64::total_cmp);
    let mean = |f: &dyn Fn(&Outcome) -> usize| {
        rows.iter().map(|r| f(pick(r))).sum::<usize>() as f64 / rows.len().max(1) as f64
    };
    json!({
        "hit_at_3_pct": pct(hits, present.len()),
        "hit_at_3_by_language_pct": by_lang.iter().map(|(l, (n, h))| (l.to_string(), pct(*h, *n))).collect::<serde_json::Map<_, _>>(),
        "false_nothing_fits_pct": pct(nothing, present.len()),
        "honest_on_absent_pct": pct(honest, absent.len()),
        "pairs_agreeing": format!("{agreeing}/{}", pairs.len()),
        "pairs_failing": failing,
        "median_ms": ms.get(ms.len() / 2).copied().unwrap_or(0.0).round(),
        "worst_ms": ms.last().copied().unwrap_or(0.0).round(),
        "mean_prefill_tokens": mean(&|o| o.prefill_tokens).round(),
        "mean_scored_tokens": mean(&|o| o.scored_tokens).round(),
    })
}

/// Both modes over `rows`, plus the grounding checks that must hold at 100 %.
fn metrics(rows: &[&Row]) -> Value {
    json!({
        "requests": rows.len(),
        "present": rows.iter().filter(|r| !r.absent).count(),
        "model": mode_metrics(rows, |r| &r.model),
        "encoder": mode_metrics(rows, |r| &r.encoder),
        "words": mode_metrics(rows, |r| &r.words),
    })
}

/// Named products that exist, and that meet the stated budget (checked on the catalog).
fn grounding(shop: &Shop, rows: &[Row]) -> (Value, Value) {
    let (mut named, mut exist, mut checked, mut within) = (0, 0, 0, 0);
    for r in rows {
        for id in &r.model.products {
            named += 1;
            if let Some(p) = shop.catalog.get(id) {
                exist += 1;
                if let Some(max) = r.max_price {
                    checked += 1;
                    within += p.price.is_some_and(|price| price <= max) as usize;
                }
            }
        }
    }
    (pct(exist, named), pct(within, checked))
}

fn print_table(set: &str, split: &str, m: &Value, rows_visible: bool) {
    let modes = [&m["model"], &m["encoder"], &m["words"]];
    println!(
        "\n{set} / {split}: {} requests ({} the shop serves){}",
        m["requests"],
        m["present"],
        if rows_visible { "" } else { " — held out: totals only" }
    );
    println!("| metric | both models | words + encoder | words only |\n|---|---|---|---|");
    let row = |label: &str, key: &str| {
        println!("| {label} | {} | {} | {} |", modes[0][key], modes[1][key], modes[2][key]);
    };
    for key in [
        "hit_at_3_pct",
        "false_nothing_fits_pct",
        "honest_on_absent_pct",
        "pairs_agreeing",
        "median_ms",
        "worst_ms",
        "mean_prefill_tokens",
        "mean_scored_tokens",
    ] {
        row(key, key);
    }
    row("hit@3 by language", "hit_at_3_by_language_pct");
    if rows_visible {
        row("pairs failing", "pairs_failing");
    }
}

/// Service questions: the right policy topic, "I don't know" when uncovered, verbatim text.
fn service(set: &Value, shop: &Shop, engine: &Arc<Engine>) -> Result<Value, Error> {
    let (mut covered, mut right_topic, mut uncovered, mut dont_know, mut verbatim, mut answers) = (0, 0, 0, 0, 0, 0);
    for q in set["questions"].as_array().into_iter().flatten() {
        let text = q["text"].as_str().ok_or("a question needs text")?;
        let mut a = Answer::new(engine.clone(), shop, text, None, ANSWER_MIN_RELEVANCE)?;
        let (mut answer, mut passage) = (String::new(), None);
        while let Some(e) = pollster::block_on(a.next())? {
            match e {
                AssistEvent::Text { text } => answer.push_str(&text),
                AssistEvent::Passage { id } => passage = Some(id),
                AssistEvent::Product { .. } => {}
            }
        }
        let policy = passage.as_deref().and_then(|id| shop.policies.as_ref().and_then(|p| p.get(id)));
        match q["topic"].as_str() {
            Some(topic) => {
                covered += 1;
                right_topic += policy.is_some_and(|p| p.topic == topic) as usize;
            }
            None => {
                uncovered += 1;
                dont_know += passage.is_none() as usize;
            }
        }
        println!("{text:<58} {:?}: {}", passage, answer.replace('\n', " "));
        if let Some(p) = policy {
            answers += 1;
            let texts: Vec<&str> =
                std::iter::once(p.text.as_str()).chain(p.i18n.values().filter_map(|l| l.text.as_deref())).collect();
            verbatim += texts.iter().any(|t| t.contains(answer.trim())) as usize;
        }
    }
    let m = json!({
        "right_passage_pct": pct(right_topic, covered),
        "dont_know_when_uncovered_pct": pct(dont_know, uncovered),
        "answer_is_policy_text_pct": pct(verbatim, answers),
    });
    println!("\nservice questions: {m}");
    Ok(m)
}

/// log P(`continuation` | `prompt`) under the model, one token at a time.
fn log_prob(engine: &Arc<Engine>, prompt: Vec<u32>, continuation: &[u32]) -> Result<f64, Error> {
    let mut d = aisle::generate::Decoder::new(engine.clone(), prompt)?;
    let mut total = 0.0;
    for &t in continuation {
        let l = pollster::block_on(d.logits())?;
        let max = l.iter().copied().fold(f32::MIN, f32::max);
        let z = l.iter().map(|x| (x - max).exp()).sum::<f32>().ln() + max;
        total += (l[t as usize] - z) as f64;
        d.push(&[t]);
    }
    Ok(total)
}

/// The PMI experiments' prompt: `request` as the shopper's message, the reply opened by "I
/// recommend:".
fn pmi_prompt(engine: &Engine, request: &str) -> Result<Vec<u32>, Error> {
    let messages = [
        aisle::chat::Message::new("system", "You are the shopping assistant of a shop."),
        aisle::chat::Message::new("user", request),
    ];
    let mut t = engine.chat_tokens(&messages)?;
    t.extend(engine.tokenizer.encode("I recommend:", false)?);
    Ok(t)
}

/// The three natural sets (the demo shop's, Vendure's, commercetools').
fn natural_sets() -> Result<Vec<(String, Value)>, Error> {
    Ok(load_sets()?
        .into_iter()
        .filter(|(n, _)| ["demo-natural", "vendure", "commercetools"].contains(&n.as_str()))
        .collect())
}

/// Can SmolLM2 tell a fitting product from another? For the English tune requests of the
/// three natural sets: one labelled product and two others; each scored by the pointwise
/// mutual information of its title with the request, log P(title | request) - log P(title |
/// a neutral request), with the reply opened by "I recommend:". Prints the AUC (0.5: no better
/// than chance) per set.
fn pmi_experiment(engine: &Arc<Engine>) -> Result<(), Error> {
    let prompt = |request: &str| pmi_prompt(engine, request);
    let neutral = prompt("Recommend a product.")?;
    for (name, set) in natural_sets()? {
        let shop = load_shop(&set)?;
        let n = shop.catalog.products.len();
        let (mut fit, mut other) = (Vec::new(), Vec::new());
        for (k, r) in set["requests"].as_array().into_iter().flatten().enumerate() {
            if r["split"] == "heldout" || r["lang"] != "en" {
                continue;
            }
            let text = r["text"].as_str().unwrap_or_default();
            let relevant: Vec<&str> =
                r["relevant"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let mut probes: Vec<usize> =
                shop.catalog.products.iter().position(|p| relevant.contains(&p.id.as_str())).into_iter().collect();
            probes.extend(
                [(k * 7 + 3) % n, (k * 13 + 5) % n]
                    .into_iter()
                    .filter(|&i| !relevant.contains(&shop.catalog.products[i].id.as_str())),
            );
            for i in probes {
                let p = &shop.catalog.products[i];
                let title = engine.tokenizer.encode(&format!(" {}", p.title), false)?;
                let pmi = log_prob(engine, prompt(text)?, &title)? - log_prob(engine, neutral.clone(), &title)?;
                if relevant.contains(&p.id.as_str()) { fit.push(pmi) } else { other.push(pmi) }
            }
        }
        let wins: f64 = fit
            .iter()
            .flat_map(|a| {
                other.iter().map(move |b| {
                    if a > b {
                        1.0
                    } else if a == b {
                        0.5
                    } else {
                        0.0
                    }
                })
            })
            .sum();
        println!(
            "{name}: {} fitting, {} other products; AUC {:.3}",
            fit.len(),
            other.len(),
            wins / (fit.len() * other.len()).max(1) as f64
        );
    }
    Ok(())
}

/// Can SmolLM2 find the product where words do not? For every tune request of the three
/// natural sets, every product of the catalog is ranked by the PMI of its title with the
/// request (as in [`pmi_experiment`]). Prints per request the best PMI, whether a labelled
/// product is in the first three, and per set hit@3 and the best-PMI spread of servable
/// against absent requests (which a threshold would have to separate).
fn pmi_rank_experiment(engine: &Arc<Engine>) -> Result<(), Error> {
    let prompt = |request: &str| pmi_prompt(engine, request);
    let neutral = prompt("Recommend a product.")?;
    for (name, set) in natural_sets()? {
        let shop = load_shop(&set)?;
        let titles: Vec<Vec<u32>> = shop
            .catalog
            .products
            .iter()
            .map(|p| engine.tokenizer.encode(&format!(" {}", p.title), false))
            .collect::<Result<_, _>>()?;
        let base: Vec<f64> = titles.iter().map(|t| log_prob(engine, neutral.clone(), t)).collect::<Result<_, _>>()?;
        let (mut hits, mut served, mut best_served, mut best_absent) = (0, 0, Vec::new(), Vec::new());
        for r in set["requests"].as_array().into_iter().flatten() {
            if r["split"] == "heldout" {
                continue;
            }
            let text = r["text"].as_str().unwrap_or_default();
            let relevant: Vec<&str> =
                r["relevant"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let p = prompt(text)?;
            let mut scored: Vec<(f64, usize)> = Vec::new();
            for (i, t) in titles.iter().enumerate() {
                // Per title token, so that long titles are not penalised.
                scored.push(((log_prob(engine, p.clone(), t)? - base[i]) / t.len().max(1) as f64, i));
            }
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            let top: Vec<&str> = scored.iter().take(3).map(|&(_, i)| shop.catalog.products[i].id.as_str()).collect();
            let hit = top.iter().any(|id| relevant.contains(id));
            if relevant.is_empty() {
                best_absent.push(scored[0].0);
            } else {
                served += 1;
                hits += usize::from(hit);
                best_served.push(scored[0].0);
            }
            println!(
                "{name} [{}] {:?}: best {:.2} {} {:?}",
                r["lang"].as_str().unwrap_or("?"),
                text,
                scored[0].0,
                if relevant.is_empty() {
                    "absent"
                } else if hit {
                    "HIT"
                } else {
                    "miss"
                },
                top
            );
        }
        let stat = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            if v.is_empty() { (0.0, 0.0, 0.0) } else { (v[0], v[v.len() / 2], v[v.len() - 1]) }
        };
        println!(
            "{name}: PMI hit@3 {hits}/{served}; best PMI servable (min, median, max) {:?}, absent {:?}",
            stat(&mut best_served),
            stat(&mut best_absent)
        );
    }
    Ok(())
}
