//! `make eval`: the shopping assistant on a labelled set of requests and service questions over
//! the demo shop (tests/eval/shop_eval.json), with the real model.
//!
//! Reports: share of named products that exist (must be 100 %), share within the request's
//! stated budget (100 %), hit@3 against the labels, honest answers for things the shop does not
//! sell, and for service questions the right policy topic (or "I don't know") and whether the
//! answer is the policy's own text. Also retrieval alone (no model), to calibrate thresholds.
//!
//!   cargo run --release --example eval [-- --json target/eval/results.json]

use std::sync::Arc;
use std::time::Instant;

use aisle::shop::assist::{self, ANSWER_MIN_RELEVANCE};
use aisle::shop::constrain::TokenClasses;
use aisle::shop::{Answer, AssistEvent, Catalog, Policies, Shop, SuggestOptions, Suggestion};
use aisle::{Engine, LoadOptions};
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().skip_while(|a| a != "--json").nth(1);
    // --retrieval: no model; the first three retrieved candidates stand for the named products.
    let retrieval_only = std::env::args().any(|a| a == "--retrieval");
    let set: Value = serde_json::from_str(&std::fs::read_to_string("tests/eval/shop_eval.json")?)?;
    let catalog = Catalog::parse(&std::fs::read_to_string(set["catalog"].as_str().unwrap())?)?;
    let policies = Policies::parse(&std::fs::read_to_string(set["policies"].as_str().unwrap())?)?;
    let shop = Arc::new(Shop::new(catalog, Some(policies)));
    let bytes = std::fs::read("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
    let device = pollster::block_on(aisle::device::open(aisle::device::DeviceKind::Cpu))?;
    let engine = Arc::new(Engine::load(&bytes, &device, &LoadOptions { max_context: 1024, ..LoadOptions::default() })?);
    let classes = Arc::new(TokenClasses::new(&engine.tokenizer));
    let t0 = Instant::now();

    if std::env::args().any(|a| a == "--semantic") {
        return semantic_experiment(&set, &shop, &engine);
    }

    // Product requests.
    let (mut named, mut exist, mut budget_checked, mut within) = (0usize, 0usize, 0usize, 0usize);
    let (mut present, mut hit3, mut retrieval_hit3) = (0usize, 0usize, 0usize);
    let (mut absent, mut honest) = (0usize, 0usize);
    let mut by_lang: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut rows = Vec::new();
    for r in set["requests"].as_array().unwrap() {
        let text = r["text"].as_str().unwrap();
        let relevant: Vec<&str> = r["relevant"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let max_price = r["max_price"].as_f64();
        let is_absent = r["absent"].as_bool().unwrap_or(false);
        let plan = assist::plan(&shop, text, None, &SuggestOptions::default());
        let mut s =
            Suggestion::new(engine.clone(), shop.clone(), classes.clone(), text, None, SuggestOptions::default())?;
        let (mut answer, mut products) = (String::new(), Vec::new());
        while let Some(e) = pollster::block_on(s.next())? {
            match e {
                AssistEvent::Text { text } => answer.push_str(&text),
                AssistEvent::Product { id } => products.push(id),
                AssistEvent::Passage { .. } => {}
            }
        }
        for id in &products {
            named += 1;
            if let Some(p) = shop.catalog.get(id) {
                exist += 1;
                if let Some(max) = max_price {
                    budget_checked += 1;
                    within += p.price.is_some_and(|price| price <= max) as usize;
                }
            }
        }
        let hit = products.iter().take(3).any(|id| relevant.contains(&id.as_str()));
        if is_absent {
            absent += 1;
            honest += products.is_empty() as usize;
        } else {
            present += 1;
            hit3 += hit as usize;
            retrieval_hit3 += plan.candidates.iter().take(3).any(|id| relevant.contains(&id.as_str())) as usize;
            let e = by_lang.entry(r["lang"].as_str().unwrap().to_string()).or_default();
            e.0 += 1;
            e.1 += hit as usize;
        }
        println!(
            "{:<60} {:?} {}",
            text,
            products,
            if is_absent {
                if products.is_empty() { "honest" } else { "NOT HONEST" }
            } else if hit {
                "hit"
            } else {
                "miss"
            }
        );
        rows.push(json!({"text": text, "products": products, "candidates": plan.candidates, "relevance": plan.relevance, "answer": answer}));
    }

    // Service questions.
    let (mut covered, mut right_topic, mut uncovered, mut dont_know, mut verbatim, mut answers) = (0, 0, 0, 0, 0, 0);
    for q in set["questions"].as_array().unwrap().iter().filter(|_| !retrieval_only) {
        let text = q["text"].as_str().unwrap();
        let mut a = Answer::new(engine.clone(), &shop, text, None, ANSWER_MIN_RELEVANCE)?;
        let (mut answer, mut passage) = (String::new(), None);
        while let Some(e) = pollster::block_on(a.next())? {
            match e {
                AssistEvent::Text { text } => answer.push_str(&text),
                AssistEvent::Passage { id } => passage = Some(id),
                AssistEvent::Product { .. } => {}
            }
        }
        let policy = passage.as_deref().and_then(|id| shop.policies.as_ref().unwrap().get(id));
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
        if let Some(p) = policy {
            answers += 1;
            let texts: Vec<&str> =
                std::iter::once(p.text.as_str()).chain(p.i18n.values().filter_map(|l| l.text.as_deref())).collect();
            verbatim += texts.iter().any(|t| t.contains(answer.trim())) as usize;
        }
        println!("{:<60} {:?}: {}", text, passage, answer.replace('\n', " "));
    }

    let pct = |a: usize, b: usize| if b == 0 { 100.0 } else { 100.0 * a as f64 / b as f64 };
    let table = json!({
        "requests": set["requests"].as_array().unwrap().len(),
        "named_products_exist_pct": pct(exist, named),
        "within_stated_budget_pct": pct(within, budget_checked),
        "hit_at_3_pct": pct(hit3, present),
        "retrieval_hit_at_3_pct": pct(retrieval_hit3, present),
        "hit_at_3_by_language": by_lang.iter().map(|(l, (n, h))| (l.clone(), json!(pct(*h, *n)))).collect::<serde_json::Map<_, _>>(),
        "honest_on_absent_pct": pct(honest, absent),
        "service_right_passage_pct": pct(right_topic, covered),
        "service_dont_know_when_uncovered_pct": pct(dont_know, uncovered),
        "service_answer_is_policy_text_pct": pct(verbatim, answers),
        "seconds": t0.elapsed().as_secs_f64(),
    });
    println!("\n| metric | value |\n|---|---|");
    for (k, v) in table.as_object().unwrap() {
        println!("| {k} | {v} |");
    }
    if let Some(path) = out {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap())?;
        std::fs::write(&path, serde_json::to_string_pretty(&json!({"summary": table, "requests": rows}))?)?;
    }
    Ok(())
}

/// Does a semantic score (cosine of mean-pooled hidden states of SmolLM2) help retrieval?
/// Re-ranks each request's BM25 candidates (all products with coverage >= the gate) by
/// `bm25_norm + w · cosine` for several weights and reports hit@3; the product keeps the
/// semantic part only if some weight beats `w = 0`.
fn semantic_experiment(set: &Value, shop: &Shop, _engine: &Engine) -> Result<(), Box<dyn std::error::Error>> {
    // Hidden states come from the burn-ops path.
    let bytes = std::fs::read("models/SmolLM2-135M-Instruct.Q4_1.gguf")?;
    let options = LoadOptions { max_context: 512, path: Some(aisle::model::ForwardPath::BurnOps) };
    let engine = &Engine::load(&bytes, &burn::tensor::Device::flex(), &options)?;
    let embed = |text: &str| -> Result<Vec<f32>, Box<dyn std::error::Error>> {
        let ids = engine.tokenizer.encode(text, false)?;
        let ids = &ids[..ids.len().min(256)];
        let v = engine
            .model
            .mean_hidden(ids)?
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        Ok(v.iter().map(|x| x / norm).collect())
    };
    let t0 = Instant::now();
    let products: Vec<Vec<f32>> = shop
        .catalog
        .products
        .iter()
        .map(|p| embed(&format!("{}. {}", p.title, p.description)))
        .collect::<Result<_, _>>()?;
    println!("embedded {} products in {:.1} s", products.len(), t0.elapsed().as_secs_f64());
    let weights = [0.0, 0.5, 1.0, 2.0, 4.0];
    let mut hits = vec![0usize; weights.len()];
    let mut present = 0;
    let opts = SuggestOptions { candidates: 20, ..SuggestOptions::default() };
    for r in set["requests"].as_array().unwrap() {
        if r["absent"].as_bool().unwrap_or(false) {
            continue;
        }
        present += 1;
        let text = r["text"].as_str().unwrap();
        let relevant: Vec<&str> = r["relevant"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let hits_bm25 =
            shop.index.search(&shop.catalog, text, &aisle::shop::query::parse_constraints(text), None, opts.candidates);
        let hits_bm25: Vec<_> = hits_bm25.into_iter().filter(|h| h.relevance >= opts.min_relevance).collect();
        let q = embed(text)?;
        let top = hits_bm25.iter().map(|h| h.score).fold(1e-9, f64::max);
        for (k, w) in weights.iter().enumerate() {
            let mut ranked: Vec<(f64, usize)> = hits_bm25
                .iter()
                .map(|h| {
                    let cos: f32 = q.iter().zip(&products[h.index]).map(|(a, b)| a * b).sum();
                    (h.score / top + w * cos as f64, h.index)
                })
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            let hit = ranked.iter().take(3).any(|(_, i)| relevant.contains(&shop.catalog.products[*i].id.as_str()));
            hits[k] += hit as usize;
        }
    }
    println!("\n| semantic weight | hit@3 |\n|---|---|");
    for (w, h) in weights.iter().zip(&hits) {
        println!("| {w} | {:.1} % |", 100.0 * *h as f64 / present as f64);
    }
    Ok(())
}
