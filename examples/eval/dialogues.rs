//! The conversation set (`tests/eval/dialogue_eval.json`) through [`Dialogue`], with the model
//! choosing reasons and policy sentences, and without it (quick answers): the kinds and
//! products are the dialogue's and retrieval's either way, so the two differ only in text.

use std::sync::Arc;

use aisle::Engine;
use aisle::shop::dialogue::{Dialogue, Kind, Step, doesnt_say};
use aisle::shop::route::ANSWER_MIN_RELEVANCE;
use aisle::shop::{Answer, AssistEvent, Lang, Shop, SuggestOptions, Suggestion};
use serde_json::{Value, json};

use super::Error;

const FILE: &str = "tests/eval/dialogue_eval.json";

/// One dialogue's outcome: right as a whole with the model (`[0]`) and without (`[1]`),
/// and each turn's.
struct Outcome {
    split: String,
    lang: String,
    tags: Vec<String>,
    right: [bool; 2],
    turns: Vec<TurnOutcome>,
}

struct TurnOutcome {
    right: [bool; 2],
    failures: Vec<String>,
}

/// One turn's reply.
struct Reply {
    kind: Kind,
    products: Vec<String>,
    passage: Option<String>,
    text: String,
}

/// Runs every dialogue with and without the model; prints the failing turns of tune
/// dialogues (held-out ones only as totals unless `show_heldout`) and returns the figures.
pub fn run(
    engine: &Arc<Engine>,
    encoder: &Arc<aisle::encoder::Encoder>,
    only: Option<&str>,
    show_heldout: bool,
) -> Result<Value, Error> {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(FILE)?)?;
    let mut report = serde_json::Map::new();
    println!("\n## dialogues ({FILE})\n");
    let sets = file["sets"].as_array().ok_or("dialogue_eval.json: no sets")?;
    for set in sets {
        let name = format!("dialogues-{}", set["catalog_name"].as_str().unwrap_or("?"));
        if only.is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        let shop = Arc::new(super::load_shop(set)?.with_encoder(encoder.clone()));
        let mut rows = Vec::new();
        for d in set["dialogues"].as_array().ok_or("a set needs dialogues")? {
            let split = d["split"].as_str().unwrap_or("heldout").to_string();
            let mut right = [true, true];
            let mut turn_results: Vec<TurnOutcome> = Vec::new();
            for (mode, model) in [(0, Some(engine)), (1, None)] {
                let mut dialogue = Dialogue::new(shop.clone(), None);
                for (i, turn) in d["turns"].as_array().ok_or("a dialogue needs turns")?.iter().enumerate() {
                    let text = turn["text"].as_str().unwrap_or_default();
                    let reply = respond(&mut dialogue, &shop, model, text)?;
                    let problems = check(&shop, &reply, &turn["expect"]);
                    if turn_results.len() <= i {
                        turn_results.push(TurnOutcome { right: [true, true], failures: Vec::new() });
                    }
                    turn_results[i].right[mode] = problems.is_empty();
                    right[mode] &= problems.is_empty();
                    if mode == 0 && !problems.is_empty() && (split != "heldout" || show_heldout) {
                        let id = d["id"].as_str().unwrap_or("?");
                        let got = format!("{:?} {:?} {:?}", reply.kind, reply.products, reply.passage);
                        turn_results[i].failures.push(format!(
                            "{id} turn {}: {text:?} -> {got}: {}",
                            i + 1,
                            problems.join("; ")
                        ));
                    }
                }
            }
            for line in turn_results.iter().flat_map(|t| &t.failures) {
                println!("  FAIL {line}");
            }
            let tags: Vec<String> = d["kinds"]
                .as_array()
                .map(|a| a.iter().filter_map(|k| k.as_str().map(String::from)).collect())
                .unwrap_or_default();
            let lang = d["lang"].as_str().unwrap_or("?").to_string();
            rows.push(Outcome { split, lang, tags, right, turns: turn_results });
        }
        let mut summary = serde_json::Map::new();
        for split in ["tune", "heldout", "all"] {
            let part: Vec<&Outcome> = rows.iter().filter(|r| split == "all" || r.split == split).collect();
            if part.is_empty() {
                continue;
            }
            let share = |pick: &dyn Fn(&Outcome) -> bool, mode: usize| {
                let sel: Vec<&&Outcome> = part.iter().filter(|r| pick(r)).collect();
                json!({"right": sel.iter().filter(|r| r.right[mode]).count(), "of": sel.len()})
            };
            let mut m = serde_json::Map::new();
            for (mode, label) in [(0, "with_model"), (1, "quick_without_model")] {
                let mut by = serde_json::Map::new();
                by.insert("whole_dialogues".into(), share(&|_| true, mode));
                for lang in ["en", "de", "zh"] {
                    by.insert(format!("lang_{lang}"), share(&|r| r.lang == lang, mode));
                }
                let mut tags: Vec<&String> = part.iter().flat_map(|r| r.tags.iter()).collect();
                tags.sort();
                tags.dedup();
                for tag in tags {
                    by.insert(format!("kind_{tag}"), share(&|r| r.tags.contains(tag), mode));
                }
                let turns: Vec<&TurnOutcome> = part.iter().flat_map(|r| r.turns.iter()).collect();
                by.insert(
                    "turns".into(),
                    json!({"right": turns.iter().filter(|t| t.right[mode]).count(), "of": turns.len()}),
                );
                m.insert(label.into(), Value::Object(by));
            }
            let w = &m["with_model"]["whole_dialogues"];
            let q = &m["quick_without_model"]["whole_dialogues"];
            let t = &m["with_model"]["turns"];
            println!(
                "{name} {split}: whole dialogues right {}/{} with the model, {}/{} without; turns {}/{}",
                w["right"], w["of"], q["right"], q["of"], t["right"], t["of"]
            );
            {
                let kinds: Vec<String> = m["with_model"]
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, _)| k.starts_with("kind_") || k.starts_with("lang_"))
                            .map(|(k, v)| format!("{k} {}/{}", v["right"], v["of"]))
                            .collect()
                    })
                    .unwrap_or_default();
                println!("    {}", kinds.join(", "));
            }
            summary.insert(split.into(), Value::Object(m));
        }
        report.insert(name, Value::Object(summary));
    }
    Ok(Value::Object(report))
}

/// One message through the dialogue, run as the CLI and the widget run it.
fn respond(
    dialogue: &mut Dialogue,
    shop: &Arc<Shop>,
    engine: Option<&Arc<Engine>>,
    text: &str,
) -> Result<Reply, Error> {
    Ok(match dialogue.respond(text) {
        Step::Suggest { request, opts } => {
            let events = match engine {
                Some(e) => drain(Suggestion::new(e.clone(), shop.clone(), &request, None, opts)?)?,
                None => Suggestion::quick(shop.clone(), &request, None, &SuggestOptions { ..opts }),
            };
            let reply = collect(Kind::Suggest, events);
            dialogue.shown(&reply.products);
            reply
        }
        Step::Answer { question, lang } => {
            let events = match engine {
                Some(e) => {
                    let mut a = Answer::new(e.clone(), shop, &question, Some(lang), ANSWER_MIN_RELEVANCE)?;
                    let mut out = Vec::new();
                    while let Some(ev) = pollster::block_on(a.next())? {
                        out.push(ev);
                    }
                    out
                }
                None => Answer::quick(shop, &question, Some(lang), ANSWER_MIN_RELEVANCE),
            };
            let reply = collect(Kind::Answer, events);
            dialogue.answered();
            reply
        }
        Step::Said(s) => Reply { kind: s.kind, products: s.products, passage: None, text: s.text },
    })
}

fn drain(mut s: Suggestion) -> Result<Vec<AssistEvent>, Error> {
    let mut out = Vec::new();
    while let Some(ev) = pollster::block_on(s.next())? {
        out.push(ev);
    }
    Ok(out)
}

fn collect(kind: Kind, events: Vec<AssistEvent>) -> Reply {
    let mut r = Reply { kind, products: Vec::new(), passage: None, text: String::new() };
    for e in events {
        match e {
            AssistEvent::Text { text } => r.text.push_str(&text),
            AssistEvent::Product { id } => r.products.push(id),
            AssistEvent::Passage { id } => r.passage = Some(id),
        }
    }
    r
}

/// What is wrong with `reply` against the turn's `expect` (empty: right).
fn check(shop: &Shop, reply: &Reply, expect: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let kind = serde_json::to_value(reply.kind).unwrap_or_default();
    if expect["kind"] != kind {
        problems.push(format!("kind {kind} (want {})", expect["kind"]));
    }
    let ids = |k: &str| -> Vec<String> {
        expect[k]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let named = &reply.products;
    if expect.get("any_of").is_some() && !named.iter().any(|p| ids("any_of").contains(p)) {
        problems.push("none of any_of".into());
    }
    if expect.get("all_in").is_some() && !named.iter().all(|p| ids("all_in").contains(p)) {
        problems.push("a product outside all_in".into());
    }
    if named.iter().any(|p| ids("none_of").contains(p)) {
        problems.push("a product in none_of".into());
    }
    if let Some(first) = expect["first"].as_str()
        && named.first().map(String::as_str) != Some(first)
    {
        problems.push(format!("first is not {first}"));
    }
    if expect.get("products").is_some() {
        let (mut a, mut b) = (named.clone(), ids("products"));
        a.sort();
        b.sort();
        if a != b {
            problems.push("not exactly the products".into());
        }
    }
    let price = |id: &String| shop.catalog.get(id).and_then(|p| p.price);
    if let Some(max) = expect["max_price"].as_f64()
        && named.iter().any(|p| price(p).is_none_or(|v| v > max))
    {
        problems.push(format!("over {max}"));
    }
    if let Some(min) = expect["min_price"].as_f64()
        && named.iter().any(|p| price(p).is_none_or(|v| v < min))
    {
        problems.push(format!("under {min}"));
    }
    if expect["empty"].as_bool() == Some(true) && !named.is_empty() {
        problems.push("products named where none fit".into());
    }
    if let Some(topic) = expect["passage_topic"].as_str() {
        let got = reply.passage.as_ref().and_then(|id| shop.policies.as_ref()?.get(id)).map(|p| p.topic.as_str());
        if got != Some(topic) {
            problems.push(format!("passage topic {got:?} (want {topic})"));
        }
    }
    if let Some(any) = expect["text_any"].as_array() {
        let low = reply.text.to_lowercase();
        if !any.iter().filter_map(Value::as_str).any(|t| low.contains(&t.to_lowercase())) {
            problems.push(format!("text lacks all of {any:?}: {:?}", reply.text));
        }
    }
    if expect["says_unknown"].as_bool() == Some(true) {
        let said = [Lang::En, Lang::De, Lang::Zh].iter().any(|l| reply.text.contains(doesnt_say(*l)));
        if !said {
            problems.push(format!("does not say the data does not tell: {:?}", reply.text));
        }
    }
    problems
}
