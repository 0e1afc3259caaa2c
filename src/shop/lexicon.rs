//! A small bilingual lexicon of everyday shopping words: a German or Chinese request is also
//! searched with the English words for the same things, because shops often write categories
//! and attributes in one language only ("gifts", "kitchen") while titles are translated.
//!
//! Entries: (English, German words, Chinese words). Matching is on search terms (German words
//! stemmed like documents; Chinese words as written).

const ENTRIES: &[(&str, &[&str], &[&str])] = &[
    ("gift", &["geschenk", "geschenke", "mitbringsel"], &["礼物", "礼品"]),
    ("toy", &["spielzeug"], &["玩具"]),
    ("game", &["spiel", "spiele", "brettspiel"], &["游戏", "桌游"]),
    ("puzzle", &["puzzle"], &["拼图"]),
    ("science", &["wissenschaft", "experiment", "experimente"], &["科学", "实验"]),
    ("kid", &["kind", "kinder"], &["孩子", "儿童", "小孩"]),
    ("shoe", &["schuh", "schuhe"], &["鞋", "鞋子"]),
    ("running", &["laufen", "joggen", "lauf"], &["跑步", "跑鞋"]),
    ("jacket", &["jacke", "regenjacke"], &["夹克", "外套"]),
    ("rain", &["regen"], &["雨"]),
    ("sock", &["socke", "socken"], &["袜子"]),
    ("shirt", &["hemd", "shirt"], &["衬衫", "t恤"]),
    ("hat", &["mütze", "hut"], &["帽子"]),
    ("headphones", &["kopfhörer"], &["耳机"]),
    ("earbuds", &["ohrhörer"], &["耳塞"]),
    ("noise", &["geräusch", "lärm"], &["噪音", "降噪"]),
    ("speaker", &["lautsprecher", "box"], &["音箱", "扬声器"]),
    ("charger", &["ladegerät"], &["充电器"]),
    ("case", &["hülle", "handyhülle", "schutzhülle"], &["手机壳", "保护壳", "壳"]),
    ("phone", &["handy", "smartphone", "telefon"], &["手机"]),
    ("watch", &["uhr", "armbanduhr"], &["手表"]),
    ("lamp", &["lampe", "leuchte"], &["灯", "台灯"]),
    ("battery", &["akku", "batterie"], &["电池"]),
    ("coffee", &["kaffee"], &["咖啡"]),
    ("grinder", &["mühle", "kaffeemühle"], &["磨豆机", "研磨机"]),
    ("kettle", &["wasserkocher"], &["水壶", "电水壶"]),
    ("blender", &["mixer", "standmixer"], &["搅拌机", "料理机"]),
    ("knife", &["messer"], &["刀", "菜刀"]),
    ("pan", &["pfanne"], &["锅", "平底锅"]),
    ("pot", &["topf"], &["锅"]),
    ("mug", &["tasse", "becher"], &["杯子", "马克杯"]),
    ("kitchen", &["küche"], &["厨房"]),
    ("tent", &["zelt"], &["帐篷"]),
    ("sleeping bag", &["schlafsack"], &["睡袋"]),
    ("backpack", &["rucksack"], &["背包", "双肩包"]),
    ("bottle", &["flasche", "trinkflasche"], &["水瓶", "水壶", "保温杯"]),
    ("stove", &["kocher", "campingkocher"], &["炉", "炉子"]),
    ("chair", &["stuhl"], &["椅子"]),
    ("camping", &["camping", "zelten"], &["露营"]),
    ("hiking", &["wandern", "trekking"], &["徒步", "登山"]),
    ("outdoor", &["draußen"], &["户外"]),
    ("blanket", &["decke", "kuscheldecke"], &["毯子", "毛毯"]),
    ("pillow", &["kissen"], &["枕头"]),
    ("candle", &["kerze", "duftkerze"], &["蜡烛", "香薰"]),
    ("towel", &["handtuch", "handtücher"], &["毛巾"]),
    ("rug", &["teppich"], &["地毯"]),
    ("curtain", &["vorhang", "vorhänge"], &["窗帘"]),
    ("plant", &["pflanze", "pflanzen"], &["植物"]),
    ("clock", &["uhr", "wanduhr"], &["钟", "挂钟"]),
    ("wool", &["wolle"], &["羊毛"]),
    ("cotton", &["baumwolle"], &["棉"]),
    ("waterproof", &["wasserdicht"], &["防水"]),
    ("wireless", &["kabellos"], &["无线"]),
    ("warm", &["warm"], &["保暖", "暖和"]),
    ("women", &["damen", "frauen"], &["女士", "女款"]),
    ("men", &["herren", "männer"], &["男士", "男款"]),
    ("family", &["familie"], &["家庭"]),
    // Service questions.
    (
        "return",
        &["zurückgeben", "zurückzugeben", "rückgabe", "retoure", "umtausch", "umtauschen", "zurücksenden"],
        &["退货", "退回", "退换"],
    ),
    ("refund", &["erstattung", "rückerstattung"], &["退款"]),
    ("shipping", &["versand", "versandkosten", "verschicken"], &["运费", "邮费", "发货", "快递"]),
    ("delivery", &["lieferung", "zustellung", "liefern"], &["送货", "配送"]),
    ("pay", &["bezahlen", "zahlung", "zahlen"], &["付款", "支付"]),
    ("warranty", &["garantie", "gewährleistung"], &["保修", "质保"]),
    ("size", &["größe", "grösse"], &["尺码", "尺寸"]),
    ("cancel", &["stornieren", "storno", "stornierung"], &["取消"]),
    ("day", &["tag", "tage", "tagen"], &["天"]),
    ("cost", &["kosten", "kostet"], &["费用", "多少钱"]),
    ("free", &["kostenlos", "gratis"], &["免费", "包邮"]),
    ("international", &["ausland"], &["国际", "海外"]),
    ("contact", &["kontakt", "kontaktieren"], &["联系", "客服"]),
];

/// English words for a German or Chinese search term.
pub fn english_for(term: &str) -> Vec<&'static str> {
    let stemmed = super::retrieve::stem(term);
    let mut out = Vec::new();
    for (en, de, zh) in ENTRIES {
        let hit = de.iter().any(|w| *w == term || super::retrieve::stem(w) == stemmed) || zh.contains(&term);
        if hit {
            out.push(*en);
        }
    }
    out
}

/// The Chinese words of the lexicon, longest first: a request's Chinese text is searched for
/// them as whole words besides its character bigrams.
pub fn chinese_words() -> impl Iterator<Item = &'static str> {
    let mut v: Vec<&str> = ENTRIES.iter().flat_map(|(_, _, zh)| zh.iter().copied()).collect();
    v.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    v.into_iter()
}
