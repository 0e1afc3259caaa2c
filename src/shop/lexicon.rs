//! A bilingual lexicon of everyday shopping words, and English synonyms: a German or Chinese
//! request is also searched with the English words for the same things (many shops write their
//! catalog in one language only), and "couch" also finds "sofa".
//!
//! Entries: (English, German words, Chinese words). Matching is on search terms: German words
//! stemmed like documents, German compounds by their parts ("Laufschuhe" = "lauf" + "schuhe"),
//! Chinese words as written. The list is general shopping vocabulary (home, kitchen, outdoor,
//! sports, clothing, electronics, toys), not any one shop's words.

use super::text::{stem, terms};

const ENTRIES: &[(&str, &[&str], &[&str])] = &[
    ("gift", &["geschenk", "geschenke", "mitbringsel"], &["礼物", "礼品"]),
    ("toy", &["spielzeug"], &["玩具"]),
    ("game", &["spiel", "spiele", "brettspiel"], &["游戏", "桌游"]),
    ("puzzle", &["puzzle"], &["拼图"]),
    ("science", &["wissenschaft", "experiment", "experimente"], &["科学", "实验"]),
    ("kid", &["kind", "kinder"], &["孩子", "儿童", "小孩"]),
    ("baby", &["baby", "säugling"], &["宝宝", "婴儿"]),
    ("shoe", &["schuh", "schuhe"], &["鞋", "鞋子"]),
    ("sneakers", &["sneaker", "turnschuhe", "turnschuh"], &["运动鞋", "球鞋"]),
    ("boots", &["stiefel"], &["靴子", "靴"]),
    ("running", &["laufen", "joggen", "lauf", "läuft", "joggt"], &["跑步", "跑鞋"]),
    ("jacket", &["jacke", "regenjacke"], &["夹克", "外套", "雨衣"]),
    ("coat", &["mantel"], &["大衣"]),
    ("rain", &["regen"], &["雨"]),
    ("sock", &["socke", "socken"], &["袜子"]),
    ("shirt", &["hemd", "shirt"], &["衬衫", "t恤"]),
    ("sweater", &["pullover", "pulli"], &["毛衣"]),
    ("trousers", &["hose"], &["裤子"]),
    ("dress", &["kleid"], &["连衣裙", "裙子"]),
    ("hat", &["mütze", "hut"], &["帽子"]),
    ("gloves", &["handschuh", "handschuhe"], &["手套"]),
    ("bag", &["tasche"], &["包", "袋"]),
    ("headphones", &["kopfhörer"], &["耳机"]),
    ("earbuds", &["ohrhörer", "in-ear"], &["耳塞", "入耳式"]),
    ("noise", &["geräusch", "lärm"], &["噪音", "降噪"]),
    ("speaker", &["lautsprecher", "box"], &["音箱", "扬声器"]),
    ("charger", &["ladegerät"], &["充电器"]),
    ("cable", &["kabel"], &["线", "数据线", "网线"]),
    ("case", &["hülle", "handyhülle", "schutzhülle"], &["手机壳", "保护壳", "壳"]),
    ("phone", &["handy", "smartphone", "telefon"], &["手机"]),
    ("watch", &["uhr", "armbanduhr"], &["手表"]),
    ("computer", &["computer", "rechner", "pc"], &["电脑", "计算机"]),
    ("laptop", &["laptop", "notebook"], &["笔记本", "笔记本电脑"]),
    ("tablet", &["tablet"], &["平板", "平板电脑"]),
    ("monitor", &["bildschirm", "monitor"], &["显示器", "屏幕"]),
    ("keyboard", &["tastatur"], &["键盘"]),
    ("mouse", &["maus"], &["鼠标"]),
    ("memory", &["arbeitsspeicher", "speicher"], &["内存"]),
    ("hard drive", &["festplatte"], &["硬盘"]),
    ("camera", &["kamera", "fotoapparat"], &["相机", "照相机", "摄像机"]),
    ("photo", &["foto", "fotos", "fotografie", "fotografieren", "fotografiert"], &["摄影", "拍照", "照片"]),
    ("lens", &["objektiv", "linse"], &["镜头"]),
    ("tripod", &["stativ"], &["三脚架"]),
    ("lamp", &["lampe", "leuchte"], &["灯", "台灯"]),
    ("battery", &["akku", "batterie"], &["电池"]),
    ("coffee", &["kaffee"], &["咖啡"]),
    ("tea", &["tee"], &["茶"]),
    ("grinder", &["mühle", "kaffeemühle"], &["磨豆机", "研磨机"]),
    ("kettle", &["wasserkocher"], &["水壶", "电水壶"]),
    ("blender", &["mixer", "standmixer"], &["搅拌机", "料理机"]),
    ("knife", &["messer"], &["刀", "菜刀"]),
    ("pan", &["pfanne"], &["锅", "平底锅"]),
    ("pot", &["topf"], &["锅"]),
    ("mug", &["tasse", "becher"], &["杯子", "马克杯"]),
    ("cup", &["tasse"], &["杯"]),
    ("glass", &["glas", "gläser"], &["玻璃杯", "杯子", "酒杯"]),
    ("wine", &["wein"], &["葡萄酒", "红酒"]),
    ("champagne", &["champagner", "sekt"], &["香槟"]),
    ("beer", &["bier"], &["啤酒"]),
    ("whiskey", &["whisky", "whiskey"], &["威士忌"]),
    ("rattan", &["rattan", "korbgeflecht"], &["藤编", "藤"]),
    ("vanilla", &["vanille"], &["香草"]),
    ("film", &["film", "filme", "rollfilm"], &["胶卷", "胶片"]),
    ("insulated", &["isoliert", "isolierte", "isolierung", "warmhalten"], &["保温"]),
    ("backrest", &["lehne", "rückenlehne"], &["靠背"]),
    ("persons", &["leute", "personen", "person"], &[]),
    ("cocktail", &["cocktail", "cocktails"], &["鸡尾酒"]),
    ("shaker", &["shaker"], &["调酒器", "摇酒器"]),
    ("plate", &["teller", "platte"], &["盘子", "碟子"]),
    ("bowl", &["schüssel", "schale"], &["碗"]),
    ("tray", &["tablett"], &["托盘"]),
    ("kitchen", &["küche"], &["厨房"]),
    ("cooking", &["kochen", "kocht", "koche"], &["做饭", "烹饪", "下厨"]),
    ("tent", &["zelt"], &["帐篷"]),
    ("sleeping bag", &["schlafsack"], &["睡袋"]),
    ("backpack", &["rucksack"], &["背包", "双肩包"]),
    ("bottle", &["flasche", "trinkflasche"], &["水瓶", "水壶", "保温杯"]),
    ("stove", &["kocher", "campingkocher"], &["炉", "炉子"]),
    ("chair", &["stuhl", "sessel"], &["椅子", "椅"]),
    ("armchair", &["sessel", "lehnstuhl"], &["扶手椅", "沙发椅"]),
    ("sofa", &["sofa", "couch"], &["沙发"]),
    ("table", &["tisch"], &["桌子", "桌"]),
    ("nightstand", &["nachttisch", "nachtkästchen", "nachtschrank", "nachtkommode"], &["床头柜"]),
    ("mattress", &["matratze"], &["床垫"]),
    ("sleeping pad", &["isomatte", "luftmatratze", "schlafmatte"], &["防潮垫", "睡垫", "气垫"]),
    ("teapot", &["teekanne"], &["茶壶"]),
    ("desk", &["schreibtisch"], &["书桌", "办公桌"]),
    ("bed", &["bett"], &["床"]),
    ("double bed", &["doppelbett"], &["双人床"]),
    ("dresser", &["kommode"], &["五斗柜", "斗柜"]),
    ("shelf", &["regal"], &["架子", "书架"]),
    ("stool", &["hocker"], &["凳子"]),
    ("furniture", &["möbel"], &["家具"]),
    ("camping", &["camping", "zelten"], &["露营"]),
    ("hiking", &["wandern", "wandert", "trekking"], &["徒步", "登山"]),
    ("reading", &["lesen", "liest"], &["看书", "阅读"]),
    ("baking", &["backen", "backt"], &["烘焙"]),
    ("outdoor", &["draußen"], &["户外"]),
    ("indoor", &["zimmer", "drinnen"], &["室内"]),
    ("bike", &["fahrrad", "rad"], &["自行车", "单车"]),
    ("ball", &["ball"], &["球"]),
    ("football", &["fußball"], &["足球"]),
    ("basketball", &["basketball"], &["篮球"]),
    ("tennis", &["tennis"], &["网球"]),
    ("boxing", &["boxen", "box"], &["拳击"]),
    ("skateboard", &["skateboard"], &["滑板"]),
    ("fitness", &["fitness", "training"], &["健身"]),
    ("skipping rope", &["springseil", "sprungseil", "hüpfseil"], &["跳绳"]),
    ("rope", &["seil"], &["绳子"]),
    ("blanket", &["decke", "kuscheldecke"], &["毯子", "毛毯"]),
    ("pillow", &["kissen"], &["枕头"]),
    ("pillow cover", &["kissenbezug"], &["枕套"]),
    ("sheet", &["bettwäsche", "laken"], &["床单"]),
    ("candle", &["kerze", "kerzen", "duftkerze"], &["蜡烛", "香薰"]),
    ("towel", &["handtuch", "handtücher"], &["毛巾"]),
    ("rug", &["teppich"], &["地毯"]),
    ("curtain", &["vorhang", "vorhänge"], &["窗帘"]),
    ("painting", &["bild", "gemälde", "malerei"], &["画", "挂画", "油画"]),
    ("mirror", &["spiegel"], &["镜子"]),
    ("ivory", &["elfenbein", "elfenbeinfarben", "elfenbeinfarbig"], &["象牙白", "象牙色"]),
    ("cream", &["creme", "cremefarben", "cremeweiß"], &["奶油色", "米白色"]),
    ("vase", &["vase"], &["花瓶"]),
    ("basket", &["korb"], &["篮子", "筐"]),
    ("plant", &["pflanze", "pflanzen"], &["植物"]),
    ("flower", &["blume", "blumen"], &["花"]),
    ("garden", &["garten", "gärtnern", "gärtnert"], &["花园", "园艺"]),
    ("clock", &["uhr", "wanduhr"], &["钟", "挂钟"]),
    ("wall", &["wand", "wände"], &["墙", "墙上"]),
    ("wool", &["wolle"], &["羊毛"]),
    ("cotton", &["baumwolle"], &["棉"]),
    ("leather", &["leder"], &["皮", "真皮", "皮革"]),
    ("wood", &["holz"], &["木", "实木"]),
    ("velvet", &["samt"], &["天鹅绒"]),
    ("waterproof", &["wasserdicht"], &["防水"]),
    ("wireless", &["kabellos"], &["无线"]),
    ("warm", &["warm"], &["保暖", "暖和"]),
    ("women", &["damen", "frauen"], &["女士", "女款"]),
    ("men", &["herren", "männer"], &["男士", "男款"]),
    ("family", &["familie"], &["家庭"]),
    ("person", &["person", "personen"], &["人"]),
    // Service questions.
    (
        "return",
        &[
            "zurückgeben",
            "zurückzugeben",
            "rückgabe",
            "retoure",
            "umtausch",
            "umtauschen",
            "zurücksenden",
            "zurückschicken",
            "rückgaberecht",
            "rückgabebedingungen",
            "rückgaberichtlinie",
            "umtauschrecht",
        ],
        &["退货", "退回", "退换", "退"],
    ),
    ("refund", &["erstattung", "rückerstattung"], &["退款"]),
    ("instructions", &["anleitung", "bedienungsanleitung", "gebrauchsanweisung"], &["说明书"]),
    ("shipping", &["versand", "versandkosten", "verschicken", "versandbedingungen"], &["运费", "邮费", "发货", "快递"]),
    ("delivery", &["lieferung", "zustellung", "liefern", "liefert"], &["送货", "配送"]),
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

/// English words that name the same thing: each finds the others.
const SYNONYMS: &[&[&str]] = &[
    &["sofa", "couch", "settee", "sectional", "loveseat"],
    &["nightstand", "bedside"],
    &["monitor", "screen", "display"],
    &["dresser", "drawers", "chest"],
    &["painting", "artwork", "art", "picture", "canvas"],
    &["sneakers", "trainers"],
    &["laptop", "notebook"],
    &["mouse", "mice"],
    &["storage", "drive"],
    &["memory", "ram"],
    &["cable", "cord"],
    &["customs", "duties", "duty", "import"],
    &["bike", "bicycle", "cycling"],
    &["planter", "pot"],
    &["glasses", "glassware"],
    &["mug", "cup"],
    &["headphones", "headset"],
    &["rug", "carpet"],
    &["photography", "photo"],
    &["instructions", "guide", "manual"],
    &["cooking", "cook", "kitchen"],
    &["workout", "fitness", "training", "exercise"],
];

/// What an activity or a need is served by, one way: "camping" finds tents, a tent does not
/// find everything for camping. General shopping knowledge, not any one shop's words.
const SERVED_BY: &[(&str, &[&str])] = &[
    ("camping", &["tent", "sleeping bag", "sleeping pad", "camping stove", "lantern", "headlamp", "camp chair"]),
    ("hiking", &["backpack", "hiking boots", "water bottle", "socks", "rain jacket"]),
    ("running", &["running shoes", "running"]),
    ("photography", &["camera", "lens", "tripod"]),
    ("office", &["desk", "chair", "monitor", "keyboard", "mouse", "lamp"]),
    ("gaming", &["gaming", "keyboard", "mouse", "headset", "monitor"]),
    ("workout", &["skipping rope", "gloves", "weights", "yoga", "mat", "fitness"]),
    ("sleep", &["pillow", "bed", "mattress", "blanket", "blackout", "sheet"]),
    ("coffee", &["coffee", "espresso", "grinder", "mug", "kettle"]),
    ("tea", &["teapot", "kettle", "cup", "mug"]),
    ("cocktail", &["cocktail", "shaker", "strainer", "jigger"]),
    ("wine", &["wine", "corkscrew", "opener", "decanter"]),
    ("whiskey", &["whiskey", "whisky", "flask", "tumbler"]),
    ("champagne", &["champagne", "flute"]),
    ("cheese", &["cheese", "board", "platter", "tray"]),
    ("party", &["glasses", "platter", "tray", "games"]),
    ("garden", &["trowel", "plant", "pot", "planter", "seeds", "watering"]),
    ("gardening", &["trowel", "plant", "pot", "planter", "seeds", "watering"]),
    ("reading", &["armchair", "lamp", "bookcase"]),
    ("books", &["bookcase", "shelf"]),
    ("storage", &["hard drive", "basket", "shelf", "cabinet"]),
    ("cooking", &["cookware", "pan", "saucepan", "knife", "skillet", "blender", "kettle"]),
    ("baking", &["bakeware", "tray", "bowl"]),
    ("music", &["headphones", "speaker", "earbuds"]),
    ("beach", &["towel", "speaker", "bottle"]),
    ("travel", &["backpack", "bottle", "travel"]),
    ("baby", &["plush", "toy"]),
    ("toddler", &["plush", "toy", "memory game"]),
];

/// English words for a German or Chinese search term, and English synonyms of those and of an
/// English term, and what an activity is served by ([`SERVED_BY`]).
pub fn english_for(term: &str) -> Vec<&'static str> {
    let mut out = direct(term);
    let term_stem = stem(term);
    let mut with_synonyms: Vec<&'static str> = Vec::new();
    for w in std::iter::once(term).chain(out.iter().copied()) {
        let stemmed = stem(w);
        for group in SYNONYMS {
            if group.iter().any(|g| *g == w || stem(g) == stemmed) {
                with_synonyms.extend(group.iter().copied().filter(|g| *g != w && stem(g) != term_stem));
            }
        }
    }
    out.extend(with_synonyms);
    for w in std::iter::once(term).chain(out.clone()) {
        let stemmed = stem(w);
        for (need, served) in SERVED_BY {
            if stem(need) == stemmed {
                out.extend(served.iter().copied());
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The English words of the lexicon's German word one typo from `term` (a letter dropped,
/// added or changed, two neighbours swapped: "schlafsak" -> sleeping bag), for words of six
/// letters or more that the lexicon does not know as they are; the first such word.
pub fn english_for_typo(term: &str) -> Vec<&'static str> {
    let t: Vec<char> = term.chars().collect();
    if t.len() < 6 || !direct(term).is_empty() {
        return Vec::new();
    }
    let word =
        ENTRIES.iter().flat_map(|(_, de, _)| de.iter()).find(|w| one_edit(&t, &stem(w).chars().collect::<Vec<_>>()));
    word.map(|w| english_for(&stem(w))).unwrap_or_default()
}

/// Whether `a` and `b` are one edit apart (not equal).
pub fn one_edit(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            match diff.as_slice() {
                [_] => true,
                [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
                _ => false,
            }
        }
        1 => {
            let i = (0..short.len()).find(|&i| short[i] != long[i]).unwrap_or(short.len());
            short[i..] == long[i + 1..]
        }
        _ => false,
    }
}

/// The English words for a German or Chinese term, and nothing more (no synonyms): what a
/// service question's words are matched with.
pub fn translate(term: &str) -> Vec<&'static str> {
    direct(term)
}

/// Whether `term` (a stem) is an activity or a place that products serve ("office", "camping";
/// [`SERVED_BY`]), in any of the three languages, rather than a kind of product.
pub fn is_need(term: &str) -> bool {
    let needs = |w: &str| SERVED_BY.iter().any(|(need, _)| stem(need) == stem(w));
    needs(term) || direct(term).into_iter().any(needs)
}

/// The English words that name the same thing as `term` (a stem), from [`SYNONYMS`].
pub fn synonyms(term: &str) -> Vec<&'static str> {
    let group = SYNONYMS.iter().find(|g| g.iter().any(|w| stem(w) == term));
    group.map(|g| g.iter().copied().filter(|w| stem(w) != term).collect()).unwrap_or_default()
}

/// The search terms of `text` and the English words of its German and Chinese ones (sorted,
/// once each): what a service question or a product question is matched with.
pub fn terms_with_english(text: &str) -> Vec<String> {
    let mut t = terms(text);
    let english: Vec<String> = t.iter().flat_map(|w| translate(w)).flat_map(terms).collect();
    t.extend(english);
    t.sort();
    t.dedup();
    t
}

/// Entries whose German word (stemmed) or Chinese word is `term`.
fn direct(term: &str) -> Vec<&'static str> {
    // A word the lexicon has as it is means that, not what shares its stem: "Wand" is a wall,
    // though "wandern" (hiking) stems to "wand" too.
    let exact: Vec<&'static str> =
        ENTRIES.iter().filter(|(_, de, zh)| de.contains(&term) || zh.contains(&term)).map(|(en, _, _)| *en).collect();
    if !exact.is_empty() {
        return exact;
    }
    let stemmed = stem(term);
    let mut out = Vec::new();
    for (en, de, _) in ENTRIES {
        if de.iter().any(|w| stem(w) == stemmed) {
            out.push(*en);
        }
    }
    out
}

/// A German compound read by its parts ([`compound`]).
pub struct Compound {
    /// The head in English: the longest ending that is a lexicon word ("Boxhandschuhe" -> gloves).
    pub head: Vec<&'static str>,
    /// The beginning in English, when it is a lexicon word too (boxing).
    pub modifier: Vec<&'static str>,
    /// The beginning as written (a linking "s" dropped): German shares many such words with
    /// English ("Digitalkamera", "Campingstuhl"), which the catalog may use as they are.
    pub modifier_word: String,
}

/// A German compound by its parts: the longest ending that is a lexicon word, and its beginning.
pub fn compound(term: &str) -> Option<Compound> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 6 {
        return None;
    }
    (2..=chars.len() - 3).find_map(|i| {
        let head = english_for(&chars[i..].iter().collect::<String>());
        if head.is_empty() {
            return None;
        }
        let word: String = chars[..i].iter().collect();
        let word = word.strip_suffix('s').filter(|m| m.chars().count() >= 3).unwrap_or(&word).to_string();
        Some(Compound { head, modifier: english_for(&word), modifier_word: word })
    })
}

/// The Chinese words of the lexicon, longest first: a request's Chinese text is searched for
/// them as whole words besides its character bigrams.
/// (Sorted once: every search and every dialogue turn asks for them.)
pub fn chinese_words() -> impl Iterator<Item = &'static str> {
    static WORDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let words = WORDS.get_or_init(|| {
        let mut v: Vec<&str> = ENTRIES.iter().flat_map(|(_, _, zh)| zh.iter().copied()).collect();
        v.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
        v
    });
    words.iter().copied()
}
