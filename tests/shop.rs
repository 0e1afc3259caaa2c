//! Shopping intelligence: catalog validation, constraint parsing, retrieval, constrained
//! decoding, and grounded suggestions and answers with the real model.

mod common;

use std::sync::Arc;

use aisle::shop::answer;
use aisle::shop::catalog::safe_url;
use aisle::shop::constrain::{TokenTrie, best_of};
use aisle::shop::lexicon;
use aisle::shop::query::{Role, detect_lang, parse_constraints, request_words};
use aisle::shop::route::{self, ANSWER_MIN_RELEVANCE, Route};
use aisle::shop::suggest;
use aisle::shop::text::{self, stem, terms};
use aisle::shop::{
    Answer, AssistEvent, Catalog, CatalogError, Event, Lang, Policies, Profile, Shop, SuggestOptions, Suggestion,
};
use aisle::{Engine, LoadOptions};
use burn::tensor::Device;
use common::*;

fn demo_catalog() -> Catalog {
    Catalog::parse(&std::fs::read_to_string(repo().join("demo/catalog.json")).unwrap()).unwrap()
}

fn demo_policies() -> Policies {
    Policies::parse(&std::fs::read_to_string(repo().join("demo/policies.json")).unwrap()).unwrap()
}

// ------------------------------------------------------------------------------- catalog

#[test]
fn catalog_errors_name_the_product_and_field() {
    let bad = |json: &str| Catalog::parse(json).unwrap_err();
    assert!(matches!(bad("{"), CatalogError::Json(_)));
    assert!(matches!(bad(r#"{"items": []}"#), CatalogError::Json(_)));
    assert_eq!(
        bad(r#"{"products": [{"title": "x"}]}"#),
        CatalogError::Field { index: 0, field: "id".into(), problem: "is missing".into() }
    );
    let e = bad(r#"{"products": [{"id": "a", "title": "A"}, {"id": "b"}]}"#);
    assert_eq!(e, CatalogError::ProductField { id: "b".into(), field: "title".into(), problem: "is missing".into() });
    let e = bad(r#"{"products": [{"id": "a", "title": "A", "price": "cheap"}]}"#);
    assert!(matches!(&e, CatalogError::ProductField { id, field, .. } if id == "a" && field == "price"), "{e}");
    let e = bad(r#"{"products": [{"id": "a", "title": "A", "price": -3}]}"#);
    assert!(e.to_string().contains("\"a\": price"), "{e}");
    let e = bad(r#"{"products": [{"id": "a", "title": "A", "categories": "kitchen"}]}"#);
    assert!(matches!(&e, CatalogError::ProductField { field, .. } if field == "categories"), "{e}");
    assert_eq!(
        bad(r#"{"products": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}"#),
        CatalogError::DuplicateId("a".into())
    );
    let long = "x".repeat(400);
    assert!(bad(&format!(r#"{{"products": [{{"id": "a", "title": "{long}"}}]}}"#)).to_string().contains("title"));
    // Optional fields may be absent; numeric ids are accepted as text.
    let c = Catalog::parse(r#"{"products": [{"id": 7, "title": "Seven"}]}"#).unwrap();
    assert_eq!(c.get("7").unwrap().title, "Seven");
    assert!(c.get("7").unwrap().in_stock);
}

#[test]
fn links_are_followed_only_when_http_or_relative() {
    for ok in ["https://shop.example/p/1", "http://x.example", "img/a.svg", "/p?id=1", "../x.png", "p#top"] {
        assert!(safe_url(ok), "{ok}");
    }
    for bad in [
        "javascript:alert(1)",
        " JaVaScRiPt:x",
        "data:text/html,x",
        "vbscript:x",
        "//evil.example/x",
        "\u{0}javascript:x",
        "",
        "mailto:a@b",
    ] {
        assert!(!safe_url(bad), "{bad:?}");
    }
}

#[test]
fn a_large_catalog_parses_and_indexes() {
    let products: Vec<String> = (0..10_000)
        .map(|i| format!(r#"{{"id":"p{i}","title":"Product {i} kettle","description":"A steel kettle number {i}","categories":["kitchen"],"price":{}.5}}"#, i % 300))
        .collect();
    let json = format!(r#"{{"products":[{}]}}"#, products.join(","));
    let c = Catalog::parse(&json).unwrap();
    assert_eq!(c.len(), 10_000);
    let shop = Shop::new(c, None);
    let plan = suggest::plan(&shop, "kettle under $10", None, &SuggestOptions::default());
    assert!(!plan.candidates.is_empty());
    for id in &plan.candidates {
        assert!(shop.catalog.get(id).unwrap().price.unwrap() <= 10.0);
    }
}

#[test]
fn variants_listed_one_by_one_show_as_one_product() {
    // A Merchant Center feed lists each size as an item; they share `group`.
    let json = r#"{"products":[
        {"id":"j-s","title":"Storm rain jacket, S","group":"storm","price":120,"attributes":{"size":"S"}},
        {"id":"j-m","title":"Storm rain jacket, M","group":"storm","price":120,"attributes":{"size":"M"},"in_stock":false},
        {"id":"j-l","title":"Storm rain jacket, L","group":"storm","price":120,"attributes":{"size":"L"}},
        {"id":"p-1","title":"Packable rain jacket","price":80},
        {"id":"u-1","title":"Travel umbrella","price":20}]}"#;
    let shop = Shop::new(Catalog::parse(json).unwrap(), None);
    let plan = suggest::plan(&shop, "a rain jacket", None, &SuggestOptions::default());
    let storm: Vec<&String> = plan.candidates.iter().filter(|id| id.starts_with("j-")).collect();
    assert_eq!(storm.len(), 1, "one card for the jacket, not one per size: {:?}", plan.candidates);
    assert!(plan.candidates.contains(&"p-1".to_string()));
    let plan = suggest::plan(&shop, "a rain jacket under $100", None, &SuggestOptions::default());
    assert_eq!(plan.candidates, ["p-1"]);
}

// ------------------------------------------------------------------------------- query

#[test]
fn languages_are_detected() {
    assert_eq!(detect_lang("I'm looking for running shoes"), Lang::En);
    assert_eq!(detect_lang("Ich suche Laufschuhe unter 100 Euro"), Lang::De);
    assert_eq!(detect_lang("Größe L bitte"), Lang::De);
    assert_eq!(detect_lang("我想买一个手机壳"), Lang::Zh);
}

#[test]
fn budgets_colours_and_sizes_in_three_languages() {
    let c = |s: &str| parse_constraints(s);
    assert_eq!(c("running shoes under $100").max_price, Some(100.0));
    assert_eq!(c("headphones below 50 dollars").max_price, Some(50.0));
    assert_eq!(c("a tent for less than $1,299.99").max_price, Some(1299.99));
    assert_eq!(c("my budget is around $40").max_price, Some(50.0));
    assert_eq!(c("something over $200").min_price, Some(200.0));
    let b = c("between $20 and $50");
    assert_eq!((b.min_price, b.max_price), (Some(20.0), Some(50.0)));
    assert_eq!(c("Laufschuhe unter 300 €").max_price, Some(300.0));
    assert_eq!(c("ein Geschenk bis 49,90 Euro").max_price, Some(49.9));
    assert_eq!(c("手机壳500元以内").max_price, Some(500.0));
    assert_eq!(c("预算50元").max_price, Some(50.0));
    assert_eq!(c("不超过300元的耳机").max_price, Some(300.0));
    // Numbers that are not money stay out of the budget.
    assert_eq!(c("a case for my iPhone 15").max_price, None);
    assert_eq!(c("a gift for a 10-year-old").max_price, None);
    assert_eq!(c("about 20 miles a week").max_price, None);
    assert_eq!(c("a black jacket").colors, vec!["black"]);
    assert_eq!(c("eine rote Jacke").colors, vec!["red"]);
    assert_eq!(c("蓝色的背包").colors, vec!["blue"]);
    assert_eq!(c("a rain jacket in size M").size.as_deref(), Some("M"));
    assert_eq!(c("Regenjacke Größe XL").size.as_deref(), Some("XL"));
    assert_eq!(c("running shoes size 42").size.as_deref(), Some("42"));
    assert_eq!(c("I'm looking for a mug").size, None);
}

#[test]
fn search_terms_stem_and_split_chinese() {
    assert_eq!(stem("shoes"), stem("shoe"));
    assert_eq!(stem("headphones"), stem("headphone"));
    assert_eq!(terms("手机壳"), vec!["手机", "机壳"]);
    assert!(terms("the best running shoes").iter().all(|t| t != "the" && t != "best"));
}

#[test]
fn stems_meet_across_inflections() {
    assert_eq!(stem("flowers"), stem("flowering"));
    assert_eq!(stem("running"), stem("runner"));
    assert_eq!(stem("runners"), stem("run"));
    assert_eq!(stem("gardening"), stem("garden"));
}

#[test]
fn the_core_is_the_part_that_names_something_the_shop_has() {
    let shop = Shop::new(demo_catalog(), None);
    let core = |s: &str| -> Vec<String> {
        let words = shop.index.request_words(s).words;
        words.into_iter().filter(|(_, r)| *r == Role::Core).map(|(t, _)| t).collect()
    };
    // What the shopper says first names nothing the shop has: the core is the part that does.
    assert_eq!(core("hi! looking for a tent for backpacking, just me and my girlfriend"), [stem("tent")]);
    assert_eq!(core("it's for my nephew, he's turning 9 and is obsessed with science stuff"), [stem("science")]);
    // Read without the shop, the first part stays the core.
    assert!(
        request_words("it's for my nephew, he's turning 9 and is obsessed with science stuff")
            .words
            .contains(&(stem("science"), Role::Context))
    );
    // A thing asked for outright stays the core though the shop lacks it.
    let helmets = core("Habt ihr Fahrradhelme? Ich fahre jeden Tag mit dem Zelt zur Arbeit");
    assert!(!helmets.contains(&stem("zelt")), "{helmets:?}");
    let hits =
        shop.index.search(&shop.catalog, "a unicorn costume for my daughter's party", &Default::default(), None, 3);
    assert!(hits.iter().all(|h| h.relevance < 0.5), "an absent product stays absent: {hits:?}");
}

#[test]
fn requests_are_read_into_core_context_and_soft_words() {
    let roles = |s: &str| -> Vec<(String, Role)> { request_words(s).words };
    let role_of = |s: &str, w: &str| roles(s).into_iter().find(|(t, _)| t == &stem(w)).map(|(_, r)| r);
    // The thing asked for is the core; what follows "for" is context.
    assert_eq!(role_of("headphones for the gym", "headphones"), Some(Role::Core));
    assert_eq!(role_of("headphones for the gym", "gym"), Some(Role::Context));
    // Who it is for, and when, are not searched at all.
    let coffee = roles("something for my wife, she loves coffee");
    assert_eq!(coffee, vec![(stem("coffee"), Role::Core)]);
    assert!(roles("I'm going camping next weekend, what do I need?").iter().all(|(t, _)| t != &stem("weekend")));
    // Quality and intent words never make a request unanswerable.
    assert_eq!(role_of("a cozy blanket", "cozy"), Some(Role::Soft));
    assert_eq!(role_of("a cozy blanket", "blanket"), Some(Role::Core));
    let gift = request_words("a birthday present for a 10 year old");
    assert!(gift.gift && !gift.has_core(), "{gift:?}");
    // German and Chinese: the core is the thing, in Chinese after 的.
    assert_eq!(role_of("Ich suche ein Geschenk für meinen Vater, er kocht gern", "kocht"), Some(Role::Core));
    let zh = roles("适合健身房的耳机");
    assert!(zh.contains(&("耳机".to_string(), Role::Core)), "{zh:?}");
    assert!(zh.iter().all(|(_, r)| *r != Role::Core || zh.iter().any(|(t, _)| t == "耳机")));
    // What the shopper does not want is a constraint, not a word to find.
    assert_eq!(parse_constraints("a couch that isn't leather").exclude, vec![stem("leather")]);
    assert!(parse_constraints("eine Tasche ohne Leder").exclude.contains(&stem("leather")));
    assert!(roles("a kettle that isn't plastic").iter().all(|(t, _)| t != &stem("plastic")));
    assert!(parse_constraints("不要皮的沙发").exclude.contains(&stem("leather")));
    assert!(roles("不要皮的沙发").iter().all(|(t, _)| t != "皮"), "{:?}", roles("不要皮的沙发"));
    // "有没有毯子？" asks for blankets: its 没有 is a question, not a negation.
    assert!(parse_constraints("有没有毯子？").exclude.is_empty());
    assert_eq!(role_of("有没有毯子？", "毯子"), Some(Role::Core));
    // A colour is a constraint, not the thing: "跑步鞋 黑色" is about running shoes.
    assert_eq!(parse_constraints("跑步鞋 黑色").colors, ["black"]);
    assert_ne!(role_of("想买双跑步鞋. 黑色的", "黑色"), Some(Role::Core));
}

#[test]
fn the_lexicon_reads_german_compounds_by_their_parts() {
    let parts = lexicon::compound("laufschuhe").expect("a compound");
    assert!(
        parts.head.contains(&"shoe") && parts.modifier.contains(&"running"),
        "{:?} {:?}",
        parts.head,
        parts.modifier
    );
    let parts = lexicon::compound(&stem("weingläser")).expect("a compound");
    assert!(parts.head.contains(&"glass") && parts.modifier.contains(&"wine"), "{:?} {:?}", parts.head, parts.modifier);
    // A beginning the lexicon lacks is kept as written, for catalogs that use the same word.
    let parts = lexicon::compound("digitalkamera").expect("a compound");
    assert!(parts.head.contains(&"camera") && parts.modifier.is_empty() && parts.modifier_word == "digital");
    // Plurals that add an umlaut meet their singular.
    assert_eq!(stem("kissenbezüge"), stem("kissenbezug"));
    assert!(lexicon::compound("kaffeemaschine").is_none());
    // A German word one typo from the lexicon's; a correct or short word is no typo.
    assert!(lexicon::english_for_typo("schlafsak").contains(&"sleeping bag"));
    assert!(lexicon::english_for_typo(&stem("schlafsack")).is_empty());
    assert!(lexicon::english_for_typo("tisc").is_empty());
    assert!(lexicon::english_for("couch").contains(&"sofa"));
    assert!(lexicon::english_for("camping").contains(&"tent"));
    // Served-by is one way: a tent is not everything for camping.
    assert!(!lexicon::english_for("tent").contains(&"camping"));
}

// ------------------------------------------------------------------------------- retrieval

#[test]
fn natural_requests_find_products_by_what_they_ask_for() {
    let shop = Shop::new(demo_catalog(), Some(demo_policies()));
    let opts = SuggestOptions::default();
    let top = |request: &str| suggest::plan(&shop, request, None, &opts).candidates;
    let in_category = |request: &str, category: &str| {
        let found = top(request);
        assert!(!found.is_empty(), "{request}: nothing found");
        for id in found.iter().take(3) {
            let p = shop.catalog.get(id).unwrap();
            assert!(p.categories.iter().any(|c| c == category), "{request}: {id} is not in {category}");
        }
    };
    in_category("a cozy blanket", "blankets");
    in_category("headphones for the gym", "headphones");
    in_category("something for my wife, she loves coffee", "kitchen");
    in_category("something for my husband, he loves coffee", "kitchen");
    in_category("Ich suche ein Geschenk für meinen Vater, er kocht gern", "kitchen");
    in_category("I'm going camping next weekend, what do I need?", "outdoor");
    // A typo one letter off still finds the product.
    assert_eq!(top("a coffee grinedr").first().map(String::as_str), Some("kit-003"));
    // Not leather: the leather-strap watch is left out.
    let watches = top("a watch that isn't leather");
    assert!(!watches.is_empty() && !watches.contains(&"gif-008".to_string()), "{watches:?}");
    // A budget alone browses the catalog: everything within it, the range of categories first.
    let browse = suggest::plan(&shop, "gift ideas under 30 dollars", None, &opts);
    assert!(browse.candidates.len() >= 3, "{:?}", browse.candidates);
    let first: Vec<&str> =
        browse.candidates.iter().take(3).map(|id| shop.catalog.get(id).unwrap().categories[0].as_str()).collect();
    assert!(first.windows(2).all(|w| w[0] != w[1]), "{first:?}");
    for id in &browse.candidates {
        assert!(shop.catalog.get(id).unwrap().price.unwrap() <= 30.0, "{id}");
    }
    // Honest on what the shop lacks, even beside a word it has.
    for request in ["a dining table", "an electric guitar", "a gaming console"] {
        assert!(top(request).is_empty(), "{request}: {:?}", top(request));
    }
}

#[test]
fn retrieval_on_the_demo_catalog_respects_constraints_and_languages() {
    let shop = Shop::new(demo_catalog(), Some(demo_policies()));
    let opts = SuggestOptions::default();
    for (request, must_match) in [
        ("running shoes under $100", "run"),
        ("Laufschuhe unter 100 Euro", "lauf"),
        ("跑步鞋", "跑"),
        ("noise cancelling headphones", "noise"),
        ("a coffee grinder", "grind"),
    ] {
        let plan = suggest::plan(&shop, request, None, &opts);
        assert!(!plan.candidates.is_empty(), "{request}: nothing found");
        let top = shop.catalog.get(&plan.candidates[0]).unwrap();
        let text = format!("{} {:?} {}", top.title, top.i18n, top.description).to_lowercase();
        assert!(text.contains(must_match), "{request}: top is {}", top.title);
        for id in &plan.candidates {
            let p = shop.catalog.get(id).unwrap();
            assert!(p.in_stock, "{request}: {id} is out of stock");
            if let Some(max) = plan.constraints.max_price {
                assert!(p.price.unwrap() <= max, "{request}: {id} costs {:?}", p.price);
            }
        }
    }
    // Things the shop does not sell find nothing, and name close categories instead.
    for request in ["a used car", "Ich suche einen Rasenmäher", "我想买一辆自行车", "life insurance"] {
        let plan = suggest::plan(&shop, request, None, &opts);
        assert!(plan.candidates.is_empty(), "{request}: found {:?}", plan.candidates);
        assert!(!plan.closest.is_empty(), "{request}: no closest categories");
    }
    // A budget nothing meets finds nothing.
    assert!(suggest::plan(&shop, "a tent under $5", None, &opts).candidates.is_empty());
}

#[test]
fn routing_sends_service_questions_to_the_policies() {
    let shop = Shop::new(demo_catalog(), Some(demo_policies()));
    assert_eq!(route::route(&shop, "How many days do I have to return an item?"), Route::Answer);
    assert_eq!(route::route(&shop, "How much is shipping?"), Route::Answer);
    assert_eq!(route::route(&shop, "running shoes under $100"), Route::Suggest);
    assert_eq!(route::route(&shop, "a gift for a 10-year-old who loves science"), Route::Suggest);
}

#[test]
fn the_profile_boosts_but_never_invents() {
    let shop = Shop::new(demo_catalog(), None);
    let outdoor: Vec<Event> = shop
        .catalog
        .products
        .iter()
        .filter(|p| p.categories.iter().any(|c| c == "outdoor"))
        .take(3)
        .map(|p| Event::View { id: p.id.clone() })
        .collect();
    let profile = Profile::from_events(&outdoor, &shop.catalog, |t| shop.search_categories(t));
    assert!(profile.top_categories(2).contains(&"outdoor".to_string()), "{:?}", profile.top_categories(3));
    let with = suggest::plan(&shop, "a water bottle", Some(&profile), &SuggestOptions::default());
    let without = suggest::plan(&shop, "a water bottle", None, &SuggestOptions::default());
    let mut a = with.candidates.clone();
    let mut b = without.candidates.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the profile reorders, it does not add products");
    // Unknown ids in events are ignored.
    let p = Profile::from_events(&[Event::View { id: "nope".into() }], &shop.catalog, |_| vec![]);
    assert!(p.is_empty());
}

// ------------------------------------------------------------------------------- constrained decoding

#[test]
fn token_trie_allows_only_phrase_continuations() {
    let trie = TokenTrie::new(&[vec![1, 2, 3], vec![1, 4], vec![5]]);
    let mut root: Vec<u32> = trie.allowed(0).collect();
    root.sort();
    assert_eq!(root, vec![1, 5]);
    let n = trie.step(0, 1).unwrap();
    let mut next: Vec<u32> = trie.allowed(n).collect();
    next.sort();
    assert_eq!(next, vec![2, 4]);
    assert_eq!(trie.step(n, 9), None);
    let leaf = trie.step(n, 4).unwrap();
    assert!(trie.is_leaf(leaf));
    assert_eq!(trie.phrase_at(leaf), Some(1));
    // The best allowed token wins even when a disallowed one scores higher.
    let logits = vec![0.0, 1.0, 0.5, 0.0, 3.0, 9.0];
    assert_eq!(best_of(&logits, trie.allowed(n)), Some(4));
}

#[test]
fn quick_answers_come_from_the_catalog_and_policies_alone() {
    let shop = Arc::new(Shop::new(demo_catalog(), Some(demo_policies())));
    let opts = SuggestOptions::default();
    for request in ["a cozy blanket", "running shoes under $100", "Ich suche eine Regenjacke", "我想买一个手机壳"]
    {
        let events = Suggestion::quick(shop.clone(), request, None, &opts);
        let products: Vec<&String> =
            events.iter().filter_map(|e| if let AssistEvent::Product { id } = e { Some(id) } else { None }).collect();
        let plan = suggest::plan(&shop, request, None, &opts);
        assert_eq!(products, plan.candidates.iter().take(opts.max_items).collect::<Vec<_>>(), "{request}");
        assert!(!products.is_empty(), "{request}: nothing named");
        let text: String = events
            .iter()
            .filter_map(|e| if let AssistEvent::Text { text } = e { Some(text.as_str()) } else { None })
            .collect();
        for id in products {
            let p = shop.catalog.get(id).unwrap();
            let lang = plan.lang.code();
            let line = format!("{} — {}", p.title_in(lang), text::first_sentence(p.description_in(lang)).trim());
            assert!(text.contains(&line), "{request}: {line:?} not in {text:?}");
        }
    }
    let events = Suggestion::quick(shop.clone(), "a used car", None, &opts);
    assert!(matches!(&events[..], [AssistEvent::Text { text }] if text.starts_with("Sorry")), "{events:?}");

    let events = Answer::quick(&shop, "How many days do I have to return an item?", None, ANSWER_MIN_RELEVANCE);
    // The sentence that answers, the rest of its passage after it, then the passage.
    let [AssistEvent::Text { text }, AssistEvent::Text { text: rest }, AssistEvent::Passage { id }] = &events[..]
    else {
        panic!("{events:?}")
    };
    let passage = shop.policies.as_ref().unwrap().get(id).unwrap();
    assert_eq!(passage.topic, "returns");
    assert!(text.contains("30 days") && passage.text.contains(text.as_str()), "{text}");
    assert!(passage.text.contains(rest.trim()) && !rest.contains(text.as_str()), "{rest}");
    // "policy" names no policy: the question is about returns.
    let events = Answer::quick(&shop, "What's your return policy?", None, ANSWER_MIN_RELEVANCE);
    let Some(AssistEvent::Passage { id }) = events.last() else { panic!("{events:?}") };
    assert_eq!(shop.policies.as_ref().unwrap().get(id).unwrap().topic, "returns", "{id}");
    let events = Answer::quick(&shop, "Do you offer life insurance for pets?", None, ANSWER_MIN_RELEVANCE);
    assert!(matches!(&events[..], [AssistEvent::Text { text }] if text.contains("contact the shop")), "{events:?}");
}

#[test]
fn a_question_about_a_whole_topic_is_answered_from_its_first_passage() {
    let shop = Arc::new(Shop::new(demo_catalog(), Some(demo_policies())));
    // Each shares only the topic's word with several of its passages (and 退货 more often with
    // "who pays for return shipping"): the shop's overview, listed first, answers.
    for question in ["你们的退货政策是怎样的？", "Wie ist euer Rückgaberecht?", "What's your returns policy?"]
    {
        let events = Answer::quick(&shop, question, None, ANSWER_MIN_RELEVANCE);
        let Some(AssistEvent::Passage { id }) = events.last() else { panic!("{question}: {events:?}") };
        assert_eq!(id, "returns-window", "{question}");
    }
    // A question on one point of the topic still finds that passage.
    let events = Answer::quick(&shop, "Who pays for the return shipping?", None, ANSWER_MIN_RELEVANCE);
    let Some(AssistEvent::Passage { id }) = events.last() else { panic!("{events:?}") };
    assert_eq!(id, "returns-shipping-cost");
}

// ------------------------------------------------------------------------------- with the model

fn engine() -> Option<Arc<Engine>> {
    let bytes = model_bytes()?;
    Some(Arc::new(
        Engine::load(&bytes, &Device::flex(), &LoadOptions { max_context: 1024, ..LoadOptions::default() }).unwrap(),
    ))
}

fn run_suggestion(engine: &Arc<Engine>, shop: &Arc<Shop>, request: &str) -> (String, Vec<String>) {
    let mut s = Suggestion::new(engine.clone(), shop.clone(), request, None, SuggestOptions::default()).unwrap();
    let (mut text, mut products) = (String::new(), Vec::new());
    while let Some(e) = pollster::block_on(s.next()).unwrap() {
        match e {
            AssistEvent::Text { text: t } => text.push_str(&t),
            AssistEvent::Product { id } => products.push(id),
            AssistEvent::Passage { .. } => panic!("a suggestion quoted a passage"),
        }
    }
    (text, products)
}

#[test]
fn suggestions_name_only_catalog_products_within_constraints() {
    let Some(engine) = engine() else { return };
    let shop = Arc::new(Shop::new(demo_catalog(), None));
    for request in [
        "running shoes under $100",
        "noise cancelling headphones",
        "Ich suche ein Geschenk für einen 10-jährigen, der Wissenschaft liebt",
        "我想买一个手机壳",
    ] {
        let (text, products) = run_suggestion(&engine, &shop, request);
        eprintln!("{request}\n{text}\n{products:?}\n");
        assert!(!products.is_empty(), "{request}: no product named");
        // The quick answer a shopper saw before the model arrived named the same products.
        let quick: Vec<String> = Suggestion::quick(shop.clone(), request, None, &SuggestOptions::default())
            .into_iter()
            .filter_map(|e| if let AssistEvent::Product { id } = e { Some(id) } else { None })
            .collect();
        assert_eq!(quick, products, "{request}");
        let plan = suggest::plan(&shop, request, None, &SuggestOptions::default());
        for id in &products {
            assert!(plan.candidates.contains(id), "{request}: {id} was not a candidate");
            let p = shop.catalog.get(id).unwrap();
            assert!(text.contains(p.title_in(plan.lang.code())), "{request}: the text names {id} by its catalog title");
        }
        // No price or link of the model's own: every $ amount in the text is absent.
        assert!(!text.contains('$') && !text.contains("http"), "{request}: {text}");
    }
}

#[test]
fn nothing_fits_is_said_honestly_without_the_model() {
    let Some(engine) = engine() else { return };
    let shop = Arc::new(Shop::new(demo_catalog(), None));
    let (text, products) = run_suggestion(&engine, &shop, "a used car");
    assert!(products.is_empty());
    assert!(text.starts_with("Sorry"), "{text}");
    let (text, products) = run_suggestion(&engine, &shop, "Ich suche einen Rasenmäher");
    assert!(products.is_empty());
    assert!(text.contains("leider"), "{text}");
}

#[test]
fn service_answers_quote_a_passage_or_say_they_do_not_know() {
    let Some(engine) = engine() else { return };
    let shop = Shop::new(Catalog::default(), Some(demo_policies()));
    let answer = |q: &str| {
        let mut a = Answer::new(engine.clone(), &shop, q, None, ANSWER_MIN_RELEVANCE).unwrap();
        let (mut text, mut passage) = (String::new(), None);
        while let Some(e) = pollster::block_on(a.next()).unwrap() {
            match e {
                AssistEvent::Text { text: t } => text.push_str(&t),
                AssistEvent::Passage { id } => passage = Some(id),
                AssistEvent::Product { .. } => panic!("an answer named a product"),
            }
        }
        (text, passage)
    };
    let (text, passage) = answer("How many days do I have to return an item?");
    let passage = passage.expect("a passage");
    let p = shop.policies.as_ref().unwrap().get(&passage).unwrap();
    assert_eq!(p.topic, "returns", "{passage}");
    // The answer is sentences of the passage, word for word.
    let said = text::sentences(&text);
    assert!(!said.is_empty() && said.iter().all(|s| p.text.contains(s.trim())), "not the passage's own words: {text}");
    let (text, passage) = answer("Do you offer life insurance for pets?");
    assert_eq!(passage, None);
    assert!(text.contains("contact the shop"), "{text}");
}

// ------------------------------------------------------------------------------- reviews

use aisle::shop::reviews;

#[test]
fn reviews_parse_from_json_and_csv_with_clear_errors() {
    let json = r#"{"reviews": [{"id": "1", "product_id": "p", "rating": 5, "text": "Great, fast shipping"}]}"#;
    assert_eq!(reviews::parse(json).unwrap()[0].rating, Some(5.0));
    let bare = r#"[{"text": "ok"}, {"text": "bad", "rating": 1}]"#;
    assert_eq!(reviews::parse(bare).unwrap().len(), 2);
    let csv = "\u{feff}id,Rating,Product_ID,Text\n1,5,p1,\"Lovely, soft and warm\"\n2,2,p2,\"Runs small.\nSend it back \"\"twice\"\"\"\r\n\n";
    let r = reviews::parse(csv).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].text, "Lovely, soft and warm");
    assert_eq!(r[1].text, "Runs small.\nSend it back \"twice\"");
    assert_eq!(r[1].product_id.as_deref(), Some("p2"));
    assert!(matches!(reviews::parse("a,b\n1,2"), Err(reviews::ReviewError::Csv(_))));
    assert!(matches!(reviews::parse("text,rating\nfine,lots"), Err(reviews::ReviewError::Review { index: 0, .. })));
    assert!(matches!(reviews::parse("text\n\"unclosed"), Err(reviews::ReviewError::Csv(_))));
    assert!(matches!(reviews::parse(r#"[{"text": "x", "rating": 9}]"#), Err(reviews::ReviewError::Review { .. })));
    assert_eq!(reviews::parse("[]").unwrap_err(), reviews::ReviewError::Empty);
}

#[test]
fn review_analysis_finds_the_demo_themes() {
    let r = reviews::parse(&std::fs::read_to_string(repo().join("demo/reviews.json")).unwrap()).unwrap();
    let report = reviews::analyze(&r);
    assert_eq!(report.total, 200);
    assert_eq!(report.positive + report.neutral + report.negative, 200);
    assert!(report.positive > report.negative);
    let sizing = report.themes.iter().find(|t| t.name == "sizing").expect("a sizing theme");
    assert!(sizing.negative > 0 && !sizing.quotes.is_empty());
    for t in &report.themes {
        for q in &t.quotes {
            assert!(r.iter().any(|x| &x.text == q), "quotes are verbatim reviews");
        }
    }
    assert!(
        report.complaints.iter().any(|c| c.product_id == "kit-006" || c.product_id == "app-002"),
        "{:?}",
        report.complaints
    );
}

#[test]
fn review_summary_is_made_of_the_analysis_sentences() {
    let Some(engine) = engine() else { return };
    let r = reviews::parse(&std::fs::read_to_string(repo().join("demo/reviews.json")).unwrap()).unwrap();
    let report = reviews::analyze(&r);
    let facts = reviews::fact_sentences(&report);
    let mut g = answer::review_summary(engine, &report).unwrap();
    let mut text = String::new();
    while let Some(e) = pollster::block_on(g.next()).unwrap() {
        if let AssistEvent::Text { text: t } = e {
            text.push_str(&t);
        }
    }
    eprintln!("{text}");
    assert!(text.split_whitespace().count() >= 5, "{text}");
    // Every sentence of the summary is one of the analysis's own.
    let mut rest = text.as_str();
    let mut n = 0;
    while !rest.trim().is_empty() {
        let f = facts
            .iter()
            .find(|f| rest.trim_start().starts_with(f.as_str()))
            .unwrap_or_else(|| panic!("not a fact: {rest}"));
        rest = &rest.trim_start()[f.len()..];
        n += 1;
    }
    assert!((1..=3).contains(&n), "{n} sentences");
}

/// What the encoder reads of a request does not say who the item is for: the members of a
/// pair that differ only in the recipient read the same, in English, German and Chinese.
#[test]
fn the_encoder_reads_a_request_without_its_recipient() {
    use aisle::shop::query::without_recipient;
    for (a, b) in [
        ("a gift for my wife, she loves hiking", "a gift for my husband, he loves hiking"),
        (
            "My son is learning to cook, which knife should I get him?",
            "My daughter is learning to cook, which knife should I get her?",
        ),
        ("Etwas für meinen Opa, er liest gern", "Etwas für meine Oma, sie liest gern"),
        ("Ein Geschenk für meinen Vater, er kocht gern", "Ein Geschenk für meine Mutter, sie kocht gern"),
        ("想给外公买个茶壶", "想给外婆买个茶壶"),
        ("想给爸爸买个礼物，他喜欢钓鱼", "想给妈妈买个礼物，她喜欢钓鱼"),
    ] {
        assert_eq!(without_recipient(a), without_recipient(b), "{a:?} / {b:?}");
    }
    // Everything else is kept as written.
    assert_eq!(without_recipient("Herbal tea, 20 bags"), "Herbal tea, 20 bags");
}

/// The words a sharded index is searched with: the request's product words as written (the
/// index stems them its own way), English words for German and Chinese ones, no frame words,
/// and soft words only when nothing else is asked for.
#[test]
fn lookup_words_give_an_index_held_elsewhere_words_it_can_find() {
    use aisle::shop::retrieve::{LookupWord, lookup_words};
    let spellings = |r: &str| -> Vec<(Vec<String>, Role)> {
        lookup_words(r).into_iter().map(|LookupWord { words, role }| (words, role)).collect()
    };
    let all = |r: &str| -> Vec<String> { spellings(r).into_iter().flat_map(|(w, _)| w).collect() };

    let gym = spellings("headphones for the gym");
    assert_eq!(gym[0].1, Role::Core, "{gym:?}");
    assert!(gym[0].0.contains(&"headphones".to_string()), "the word as written, not its stem: {gym:?}");
    assert!(gym.iter().any(|(w, r)| *r == Role::Context && w.contains(&"gym".to_string())), "{gym:?}");

    let wife = all("something for my wife, she loves coffee");
    assert!(wife.contains(&"coffee".to_string()) && !wife.iter().any(|w| w == "wife" || w == "loves"), "{wife:?}");

    let jacke = all("Ich suche eine warme Jacke");
    assert!(jacke.contains(&"jacket".to_string()), "German finds the English word: {jacke:?}");
    let tent = all("适合露营的帐篷");
    assert!(tent.contains(&"tent".to_string()), "Chinese finds the English word: {tent:?}");

    let gift = spellings("a gift");
    assert_eq!(gift.len(), 1, "{gift:?}");
    assert!(gift[0].0.contains(&"gift".to_string()) && gift[0].1 == Role::Core, "{gift:?}");
    assert!(all("a cozy blanket").iter().all(|w| w != "cozy"), "soft words give way to the product word");
    assert!(lookup_words("under 30 dollars").is_empty(), "a budget alone has no words to look up");
}

#[test]
fn a_shade_in_a_products_name_is_its_colour() {
    let c = Catalog::parse(
        r#"{"products": [
            {"id": "emerald", "title": "Emerald Velvet Chair", "categories": ["chairs"], "price": 300},
            {"id": "lilac", "title": "Lilac Velvet Chair", "categories": ["chairs"], "price": 300}
        ]}"#,
    )
    .unwrap();
    let shop = Shop::new(c, None);
    for (request, id) in [("a velvet chair in green", "emerald"), ("ein lila Samtstuhl", "lilac")] {
        let plan = suggest::plan(&shop, request, None, &SuggestOptions::default());
        assert_eq!(plan.candidates, [id], "{request}");
    }
}
