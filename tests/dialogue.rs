//! The conversation's state machine on the demo shop, without the model: each message becomes
//! a step (a search, refined or new; a policy question; a reply from the catalog's data), and
//! what was shown decides what "it", "the cheaper one" and "show me more" mean.

mod common;

use std::sync::Arc;

use aisle::shop::dialogue::{Dialogue, Kind, Said, Step, doesnt_say};
use aisle::shop::{AssistEvent, Catalog, Lang, Policies, Shop, Suggestion};
use common::repo;

fn shop() -> Arc<Shop> {
    let read = |p: &str| std::fs::read_to_string(repo().join(p)).unwrap();
    Arc::new(Shop::new(
        Catalog::parse(&read("demo/catalog.json")).unwrap(),
        Some(Policies::parse(&read("demo/policies.json")).unwrap()),
    ))
}

/// What a turn showed: the step, and for searches the products retrieval named (reported
/// back to the dialogue as the CLI and the widget do).
enum Turn {
    Products(Vec<String>, aisle::shop::SuggestOptions),
    Answer(String),
    Said(Said),
}

fn say(d: &mut Dialogue, shop: &Arc<Shop>, text: &str) -> Turn {
    match d.respond(text) {
        Step::Suggest { request, opts } => {
            let products: Vec<String> = Suggestion::quick(shop.clone(), &request, None, &opts)
                .into_iter()
                .filter_map(|e| if let AssistEvent::Product { id } = e { Some(id) } else { None })
                .collect();
            d.shown(&products);
            Turn::Products(products, opts)
        }
        Step::Answer { question, .. } => {
            d.answered();
            Turn::Answer(question)
        }
        Step::Said(s) => Turn::Said(s),
    }
}

fn products(t: Turn) -> (Vec<String>, aisle::shop::SuggestOptions) {
    match t {
        Turn::Products(p, o) => (p, o),
        Turn::Answer(q) => panic!("a policy answer for {q:?}"),
        Turn::Said(s) => panic!("a reply instead of a search: {s:?}"),
    }
}

fn said(t: Turn) -> Said {
    match t {
        Turn::Said(s) => s,
        Turn::Products(p, _) => panic!("a search instead of a reply: {p:?}"),
        Turn::Answer(q) => panic!("a policy answer for {q:?}"),
    }
}

fn price(shop: &Shop, id: &str) -> f64 {
    shop.catalog.get(id).and_then(|p| p.price).unwrap()
}

#[test]
fn refinements_keep_the_search_and_tighten_it() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (first, _) = products(say(&mut d, &shop, "noise cancelling headphones"));
    assert!(!first.is_empty());
    let top = price(&shop, &first[0]);

    // Cheaper than the one on top; what still fits may stay.
    let (cheaper, opts) = products(say(&mut d, &shop, "something cheaper"));
    assert!(!cheaper.is_empty(), "cheaper headphones exist");
    assert!(cheaper.iter().all(|id| price(&shop, id) < top), "{cheaper:?} not under {top}");
    assert!(opts.constraints.as_ref().unwrap().max_price.unwrap() < top);

    // A stated budget replaces the relative one; the subject stays headphones.
    let (under, _) = products(say(&mut d, &shop, "under $150"));
    assert!(under.iter().all(|id| price(&shop, id) <= 150.0));
    let audio = |id: &String| shop.catalog.get(id).unwrap().categories.iter().any(|c| c == "electronics");
    assert!(!under.is_empty() && under.iter().all(audio), "{under:?}");

    // "Show me more" never repeats what was shown for this search.
    let seen: Vec<String> = [first.clone(), cheaper.clone(), under.clone()].concat();
    if let Turn::Products(more, _) = say(&mut d, &shop, "show me more") {
        assert!(more.iter().all(|id| !seen.contains(id)), "{more:?} repeats {seen:?}");
    }
}

#[test]
fn a_refinement_nothing_fits_says_so_and_keeps_the_list() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (first, _) = products(say(&mut d, &shop, "a blender"));
    assert!(!first.is_empty());
    let s = said(say(&mut d, &shop, "any under $5?"));
    assert_eq!((s.kind, s.products.len()), (Kind::Suggest, 0));
    assert!(s.text.contains("That's all"), "{}", s.text);
    // "it" still means what was shown.
    let s = said(say(&mut d, &shop, "how much does it weigh?"));
    assert_eq!(s.kind, Kind::Product);
    assert_eq!(s.products, vec![first[0].clone()]);
}

/// A colour is a refinement in every language, never the subject: "黑色的" after blankets
/// means the black ones, not a search for "black"; a shade a catalog names (charcoal) is the
/// colour a shopper asks for (grey); and "the beige one" is the product of that colour (the
/// oatmeal throw, not the first shown).
#[test]
fn a_colour_refines_in_every_language_and_names_a_shown_product() {
    let shop = shop();
    for (first, colour) in [
        ("Ich suche eine kuschelige Decke fürs Sofa", "Gibt's die auch in Grau oder Anthrazit?"),
        ("有没有毯子？", "灰色的"),
        ("a cozy blanket", "in grey"),
    ] {
        let mut d = Dialogue::new(shop.clone(), None);
        let (shown, _) = products(say(&mut d, &shop, first));
        assert!(shown.contains(&"hom-002".to_string()), "{first}: {shown:?}");
        let (grey, opts) = products(say(&mut d, &shop, colour));
        assert_eq!(grey, ["hom-002"], "{colour}: the charcoal blanket, and it alone");
        assert_eq!(opts.constraints.unwrap().colors, ["grey"]);
    }
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "a cozy blanket"));
    assert!(shown.len() >= 2 && shown[0] != "hom-001" && shown.contains(&"hom-001".to_string()), "{shown:?}");
    let s = said(say(&mut d, &shop, "is the beige one machine washable?"));
    assert_eq!((s.kind, s.products.as_slice()), (Kind::Product, ["hom-001".to_string()].as_slice()), "{}", s.text);
}

/// A product shown before the last list is still "the stove"; "入耳式那款" is the earbuds
/// (the lexicon's word, not its bigram 耳式, which the on-ear headphones' 贴耳式 shares), and
/// the answer is its water rating, not the sentence that names it.
#[test]
fn references_reach_back_in_the_session_and_by_whole_chinese_words() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (camping, _) = products(say(&mut d, &shop, "show me your camping gear"));
    assert!(camping.contains(&"out-010".to_string()), "{camping:?}");
    let (cookware, _) = products(say(&mut d, &shop, "a cookware set"));
    assert!(!cookware.contains(&"out-010".to_string()), "{cookware:?}");
    let s = said(say(&mut d, &shop, "does the stove come with a gas canister?"));
    assert_eq!((s.kind, s.products.as_slice()), (Kind::Product, ["out-010".to_string()].as_slice()), "{}", s.text);
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "太贵了，便宜一点的耳机"));
    assert!(shown.contains(&"ele-002".to_string()) && shown.contains(&"ele-003".to_string()), "{shown:?}");
    let s = said(say(&mut d, &shop, "入耳式那款防水吗？"));
    assert_eq!(s.products, ["ele-003"], "{}", s.text);
    assert!(s.text.contains("IPX4"), "{}", s.text);
}

#[test]
fn references_resolve_to_what_was_shown() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "running shoes"));
    assert!(shown.len() >= 2, "{shown:?}");
    // An ordinal.
    let s = said(say(&mut d, &shop, "how much does the second one weigh?"));
    assert_eq!(s.products, vec![shown[1].clone()]);
    // "The cheaper one".
    let cheapest = shown.iter().min_by(|a, b| price(&shop, a).total_cmp(&price(&shop, b))).unwrap();
    let s = said(say(&mut d, &shop, "what is the cheaper one made of?"));
    assert_eq!(&s.products[0], cheapest);
    // "It" now means the product last answered about.
    let s = said(say(&mut d, &shop, "what colour is it?"));
    assert_eq!(&s.products[0], cheapest);
}

#[test]
fn product_answers_come_from_the_data_or_say_it_does_not_tell() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "a warm blanket"));
    let p = shop.catalog.get(&shown[0]).unwrap().clone();
    let s = said(say(&mut d, &shop, "how much does it weigh?"));
    let weight = p.attribute("weight").unwrap();
    assert!(s.text.contains(&weight), "{} lacks {weight}", s.text);
    let s = said(say(&mut d, &shop, "does it glow in the dark?"));
    assert!(s.text.contains(doesnt_say(Lang::En)), "{}", s.text);
    assert!(s.unknown, "a reply that does not tell says so, for the widget's 'Contact the shop'");
    // In German, from the German description.
    let s = said(say(&mut d, &shop, "Wie schwer ist die erste?"));
    assert!(s.text.contains(&weight), "{}", s.text);
}

#[test]
fn add_to_cart_by_reference_in_every_language_and_never_out_of_stock() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "running shoes"));
    assert!(shown.len() >= 3, "{shown:?}");
    let s = said(say(&mut d, &shop, "add the second one to my cart"));
    assert_eq!((s.kind, s.products.clone()), (Kind::Cart, vec![shown[1].clone()]), "{}", s.text);
    let title = shop.catalog.get(&shown[1]).unwrap().title.clone();
    assert!(s.text.contains(&title), "{}", s.text);
    assert!(!s.unknown);
    // "It" is the product just added; both, and all of them.
    let s = said(say(&mut d, &shop, "put it in my basket"));
    assert_eq!((s.kind, s.products), (Kind::Cart, vec![shown[1].clone()]));
    let s = said(say(&mut d, &shop, "Leg die erste in den Warenkorb"));
    assert_eq!((s.kind, s.products), (Kind::Cart, vec![shown[0].clone()]));
    assert!(s.text.starts_with("In den Warenkorb:"), "{}", s.text);
    let s = said(say(&mut d, &shop, "把第三个加入购物车"));
    assert_eq!((s.kind, s.products), (Kind::Cart, vec![shown[2].clone()]));
    let s = said(say(&mut d, &shop, "add both to my cart"));
    assert_eq!((s.kind, s.products), (Kind::Cart, shown[..2].to_vec()));
    // A product out of stock is never added: the reply says so.
    let gone = shop.catalog.products.iter().find(|p| !p.in_stock).unwrap();
    let mut d = Dialogue::new(shop.clone(), None);
    d.shown(std::slice::from_ref(&gone.id));
    let s = said(say(&mut d, &shop, "add it to my cart"));
    assert_eq!((s.kind, s.products), (Kind::Product, vec![gone.id.clone()]), "{}", s.text);
    assert!(s.text.contains("out of stock"), "{}", s.text);
    // Nothing shown and nothing named: a question back, nothing added.
    let mut d = Dialogue::new(shop.clone(), None);
    let s = said(say(&mut d, &shop, "add it to my cart"));
    assert_eq!((s.kind, s.products.len()), (Kind::None, 0), "{}", s.text);
}

#[test]
fn compare_shows_the_attributes_the_products_share() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "a blender"));
    assert!(shown.len() >= 2);
    let s = said(say(&mut d, &shop, "compare the two"));
    assert_eq!(s.kind, Kind::Compare);
    assert_eq!(s.products, shown[..2].to_vec());
    assert!(s.rows.iter().all(|r| r.values.len() == 2));
    // Values as the catalog has them: the price row holds each price label.
    let labels: Vec<Option<String>> = shown[..2].iter().map(|id| shop.catalog.get(id).unwrap().price_label()).collect();
    assert_eq!(s.rows[0].values, labels);
}

#[test]
fn broad_requests_get_a_question_back_and_a_named_product_wins() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let s = said(say(&mut d, &shop, "a gift"));
    assert_eq!(s.kind, Kind::Clarify);
    assert!(s.products.is_empty() && !s.chips.is_empty(), "{s:?}");
    // Answering the question searches with what was said before.
    let (found, opts) = products(say(&mut d, &shop, "for my dad, under $50"));
    assert!(!found.is_empty());
    assert_eq!(opts.constraints.unwrap().max_price, Some(50.0));
    // Ignoring it and naming a product gets that product.
    let mut d = Dialogue::new(shop.clone(), None);
    said(say(&mut d, &shop, "something nice"));
    let (found, _) = products(say(&mut d, &shop, "actually, a kettle"));
    assert!(shop.catalog.get(&found[0]).unwrap().title.to_lowercase().contains("kettle"), "{found:?}");
}

#[test]
fn a_new_subject_starts_a_new_search() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    products(say(&mut d, &shop, "running shoes under $100"));
    let (found, opts) = products(say(&mut d, &shop, "ok, different thing: a rain jacket"));
    assert_eq!(opts.constraints.unwrap().max_price, None, "the old budget is gone");
    assert!(shop.catalog.get(&found[0]).unwrap().title.contains("Rain Jacket"), "{found:?}");
}

#[test]
fn policy_questions_and_their_follow_ups_go_to_the_policies() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    assert!(matches!(say(&mut d, &shop, "what's your return policy?"), Turn::Answer(_)));
    let Turn::Answer(q) = say(&mut d, &shop, "and for electronics?") else { panic!("not a policy follow-up") };
    assert!(q.contains("return") && q.contains("electronics"), "{q}");
    let s = said(say(&mut d, &shop, "thanks!"));
    assert_eq!(s.kind, Kind::None);
}

/// A small shop whose data says things only in passing: a colour in the description's first
/// sentence, sizes under an attribute named "shoe size".
fn glassware_shop() -> Arc<Shop> {
    let product = |id: &str, title: &str, description: &str, price: f64, attributes: &str| {
        format!(
            r#"{{"id": "{id}", "title": "{title}", "description": "{description}", "categories": ["Kitchen"],
               "price": {price}, "currency": "USD", "in_stock": true, "attributes": {{{attributes}}}}}"#
        )
    };
    let products = [
        product("classic", "Classic Champagne Glasses", "Tall flutes for a toast.", 40.0, ""),
        product("clink", "Clink Champagne Glass", "A flute that can go in the dishwasher.", 55.0, ""),
        product("sparkle", "Sparkle Champagne Glass", "A flute with a faceted stem.", 45.0, ""),
        product("gold", "Gold Rimmed Champagne Glasses", "Flutes with a thin gold rim.", 30.0, ""),
        product(
            "luxe",
            "Luxe Pillow Cover",
            "This pillow cover is made of black shearling. It suits a red sofa.",
            26.0,
            "",
        ),
        product("maya", "Maya Pillow Cover", "A brown microfiber pillow cover.", 9.0, ""),
        product("run-a", "RunA Running Shoe", "A light running shoe.", 120.0, r#""shoe size": ["40", "42"]"#),
        product("run-b", "RunB Running Shoe", "A cushioned running shoe.", 90.0, r#""shoe size": ["41", "43", "45"]"#),
    ];
    let json = format!(r#"{{"products": [{}]}}"#, products.join(","));
    Arc::new(Shop::new(Catalog::parse(&json).unwrap(), None))
}

#[test]
fn compare_takes_the_products_named_by_words_that_set_them_apart() {
    let shop = glassware_shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "champagne glasses"));
    assert!(shown.contains(&"clink".to_string()), "{shown:?}");
    // "glass" names every one shown; "gold rimmed" names one, shown or not.
    let compared = said(say(&mut d, &shop, "compare the gold rimmed ones with the Clink glass"));
    assert_eq!(compared.kind, Kind::Compare);
    let mut ids = compared.products.clone();
    ids.sort();
    assert_eq!(ids, ["clink", "gold"], "{compared:?}");
}

#[test]
fn a_colour_in_the_first_sentence_refines_and_an_attribute_named_by_its_last_word_answers() {
    let shop = glassware_shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (covers, _) = products(say(&mut d, &shop, "pillow covers"));
    assert!(covers.contains(&"maya".to_string()), "{covers:?}");
    // Black in the first sentence; "red" in a later one says nothing of the product's colour.
    let (black, _) = products(say(&mut d, &shop, "in black"));
    assert_eq!(black, ["luxe"]);
    let red = said(say(&mut d, &shop, "in red"));
    assert!(red.products.is_empty(), "{red:?}");

    let mut d = Dialogue::new(shop.clone(), Some(Lang::Zh));
    let (shoes, _) = products(say(&mut d, &shop, "想买双跑步鞋"));
    assert_eq!(shoes.len(), 2, "{shoes:?}");
    // "有哪些" (which … are there) asks about the cheapest shown, not for a new search.
    let sizes = said(say(&mut d, &shop, "最便宜的那双有哪些尺码？"));
    assert_eq!((sizes.kind, sizes.products.as_slice()), (Kind::Product, ["run-b".to_string()].as_slice()));
    assert!(sizes.text.contains("41, 43, 45"), "{}", sizes.text);
}

/// "the second one", "tell me more about it", "das zweite", "第二个": the product itself, its
/// title and the first sentences of its description, never a new search for "second".
#[test]
fn a_bare_reference_shows_the_product_from_its_description() {
    let shop = shop();
    for (lang, request, refer, about) in [
        ("en", "a rain jacket", "the second one", "tell me more about the first one"),
        ("de", "Ich suche eine Regenjacke", "das zweite", "erzähl mir mehr über die erste"),
        ("zh", "我想买雨衣", "第二个", "详细介绍一下第一个"),
    ] {
        let mut d = Dialogue::new(shop.clone(), None);
        let (shown, _) = products(say(&mut d, &shop, request));
        assert!(shown.len() >= 2, "{request}: {shown:?}");
        for (text, i) in [(refer, 1), (about, 0)] {
            let s = said(say(&mut d, &shop, text));
            assert_eq!((s.kind, s.products.clone()), (Kind::Product, vec![shown[i].clone()]), "{text}: {s:?}");
            let p = shop.catalog.get(&shown[i]).unwrap();
            let first = aisle::shop::text::sentences(p.description_in(lang))[0];
            assert!(s.text.contains(first), "{text}: {:?} lacks the description's first sentence {first:?}", s.text);
        }
    }
}

/// "That one is too expensive": the search stays the same, only cheaper ("too expensive" is a
/// cue, not a word to search for).
#[test]
fn too_expensive_keeps_the_search() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (first, _) = products(say(&mut d, &shop, "noise cancelling headphones"));
    let top = price(&shop, &first[0]);
    let (cheaper, _) = products(say(&mut d, &shop, "that one is too expensive"));
    assert!(!cheaper.is_empty() && cheaper.iter().all(|id| price(&shop, id) < top), "{cheaper:?}");
    assert!(
        cheaper.iter().all(|id| shop.catalog.get(id).unwrap().categories.iter().any(|c| c == "electronics")),
        "still headphones: {cheaper:?}"
    );
}

#[test]
fn a_budget_keeps_to_what_was_asked_for() {
    // A coaster "for glasses" fits a request for champagne glasses less well than every glass
    // shown (it has the head word only): under a budget it does not join them.
    let product = |id: &str, title: &str, category: &str, price: f64| {
        format!(
            r#"{{"id": "{id}", "title": "{title}", "description": "For the table.", "categories": ["{category}"],
               "price": {price}, "currency": "USD", "in_stock": true}}"#
        )
    };
    let items = [
        product("classic", "Classic Champagne Glasses", "Glasses", 40.0),
        product("gold", "Gold Rimmed Champagne Glasses", "Glasses", 30.0),
        product("clink", "Clink Champagne Glass", "Glasses", 55.0),
        product("coaster", "Black Coaster for Glasses", "Bar", 8.0),
    ];
    let json = format!(r#"{{"products": [{}]}}"#, items.join(","));
    let shop = Arc::new(Shop::new(Catalog::parse(&json).unwrap(), None));
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "champagne glasses for a wedding toast"));
    assert!(!shown.contains(&"coaster".to_string()), "{shown:?}");
    assert!(shop.index.search(&shop.catalog, "champagne glasses", &Default::default(), None, 4).len() == 4);
    let (under, _) = products(say(&mut d, &shop, "anything under $35?"));
    assert_eq!(under, ["gold"], "{under:?}");
}

#[test]
fn questions_about_a_product_in_words_its_data_lacks_stay_on_it() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "a blender for smoothies"));
    assert!(shown.len() >= 2, "{shown:?}");
    // "the cheaper one" in a question names a product shown; it refines nothing.
    let s = said(say(&mut d, &shop, "can the cheaper one crush ice?"));
    let cheapest = shown.iter().min_by(|a, b| price(&shop, a).total_cmp(&price(&shop, b))).unwrap();
    assert_eq!((s.kind, &s.products[..]), (Kind::Product, std::slice::from_ref(cheapest)), "{s:?}");
    // "Is it made in Japan?": the shipping policy names Japan, the question is about the product.
    let s = said(say(&mut d, &shop, "is it made in japan or germany?"));
    assert_eq!(s.kind, Kind::Product, "{s:?}");
    assert!(s.unknown && s.text.contains(doesnt_say(Lang::En)), "{s:?}");
    // A Chinese demonstrative with its measure word (这条, "this one") refers too.
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "羊毛混纺毯子"));
    assert!(!shown.is_empty());
    let s = said(say(&mut d, &shop, "这条能机洗吗"));
    assert_eq!((s.kind, &s.products[0]), (Kind::Product, &shown[0]), "{s:?}");
}

#[test]
fn a_broad_first_message_is_asked_back_before_the_policies_are_searched() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    // "für" is in the shoe-size passage, and nothing here names a product.
    let s = said(say(&mut d, &shop, "Ich brauche was Schönes für meine neue Wohnung"));
    assert_eq!(s.kind, Kind::Clarify, "{s:?}");
}

#[test]
fn a_question_answers_from_what_it_names_and_a_new_kind_of_product_is_a_new_search() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "a chef's knife"));
    assert_eq!(shown.first().map(String::as_str), Some("kit-007"), "{shown:?}");
    // "blade" alone names no blade_length: the sentence on what it is made of answers.
    let s = said(say(&mut d, &shop, "what's the blade made of?"));
    assert!(s.text.contains("X50CrMoV15"), "{s:?}");
    // A kind of product never shown is a new search, though "one" in it could refer.
    let (tents, _) = products(say(&mut d, &shop, "also need a tent, green if you have one"));
    assert!(tents.iter().any(|id| id == "out-001"), "{tents:?}");
    // An attribute the question names answers, as the catalog has it.
    let s = said(say(&mut d, &shop, "what's the hydrostatic head?"));
    assert_eq!(s.products, ["out-001"], "{s:?}");
    assert!(s.text.contains("3000 mm"), "{s:?}");
    // Whether a thing comes with it: only a sentence naming that thing answers.
    let s = said(say(&mut d, &shop, "does it come with stakes?"));
    assert!(s.unknown && s.text.contains(doesnt_say(Lang::En)), "{s:?}");
}

#[test]
fn a_comparison_takes_the_one_named_with_the_one_asked_about_or_its_kind() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "a blender for smoothies"));
    assert!(shown.len() >= 3 && shown.contains(&"kit-005".into()) && shown.contains(&"kit-006".into()), "{shown:?}");
    // One named ("the personal one with the bottles"): compared with the other blender shown,
    // not with the product of another kind shown after them.
    let s = said(say(&mut d, &shop, "compare the large one with the personal one with the bottles"));
    assert_eq!(s.kind, Kind::Compare, "{s:?}");
    let mut ids = s.products.clone();
    ids.sort();
    assert_eq!(ids, ["kit-005", "kit-006"], "{s:?}");

    // "Compare it with …": the product asked about, and the one named.
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "Ich suche eine klassische Armbanduhr"));
    assert!(shown.contains(&"gif-008".into()) && shown.contains(&"gif-009".into()), "{shown:?}");
    let s = said(say(&mut d, &shop, "Ist die mit dem Lederarmband wasserdicht?"));
    assert_eq!(s.products, ["gif-008"], "{s:?}");
    let s = said(say(&mut d, &shop, "Vergleich sie mit der Uhr mit dem Milanaise-Armband"));
    assert_eq!(s.kind, Kind::Compare, "{s:?}");
    assert_eq!(s.products, ["gif-008", "gif-009"], "{s:?}");
}

#[test]
fn a_chinese_question_needs_no_question_mark_and_asking_for_what_it_lacked_finds_others() {
    let shop = shop();
    let mut d = Dialogue::new(shop.clone(), None);
    let (shown, _) = products(say(&mut d, &shop, "冬天盖的毯子"));
    assert_eq!(shown.first().map(String::as_str), Some("hom-002"), "{shown:?}");
    // "吗" asks: about the blanket shown, from its own data.
    let s = said(say(&mut d, &shop, "这条能机洗吗"));
    assert_eq!(s.products, ["hom-002"], "{s:?}");
    assert!(s.text.contains("手洗"), "{s:?}");
    // Then a search for what was asked of it: other products, not that one again.
    let (others, _) = products(say(&mut d, &shop, "那有没有可以机洗的毯子"));
    assert!(!others.is_empty() && !others.contains(&"hom-002".into()), "{others:?}");
}
