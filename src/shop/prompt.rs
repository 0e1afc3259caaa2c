//! The prompts and the fixed phrases of the assistant, in the shopper's language.
//!
//! Everything factual in a prompt comes from the shop's files: product titles, prices and
//! descriptions from the catalog, passages from the policies. Fixed phrases (the "nothing fits"
//! answer, "please contact the shop") are ours, translated here, not left to the model.

use super::policy::Passage;
use super::query::Lang;
use crate::chat::Message;

fn language_rule(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "",
        Lang::De => " Answer in German.",
        Lang::Zh => " Answer in Chinese.",
    }
}

/// The chat for a suggestion. The products are not in it: the list is the start of the reply
/// (each title put there as the shopper sees it), and the model only chooses each reason among
/// the product's sentences. A short prompt: the first reason comes soon.
pub fn suggest_messages(shop: &str, request: &str, lang: Lang) -> Vec<Message> {
    let system = format!(
        "You are the shopping assistant of {shop}. You recommend products from the shop's catalog and say in one sentence why each one fits the request.{}",
        language_rule(lang)
    );
    vec![Message::new("system", &system), Message::new("user", request)]
}

/// The chat for answering a service question from the best-matching policy passages.
pub fn answer_messages(shop: &str, question: &str, passages: &[&Passage], lang: Lang) -> Vec<Message> {
    let mut policy = String::new();
    for p in passages {
        policy.push_str(&format!("{}: {}\n", p.title_in(lang.code()), p.text_in(lang.code())));
    }
    let system = format!(
        "You are the customer service assistant of {shop}. Answer the question with the one sentence of these policies that answers it.{}\n\nPolicies:\n{}",
        language_rule(lang),
        policy.trim_end()
    );
    vec![Message::new("system", &system), Message::new("user", question)]
}

/// The chat for summarising reviews from their computed facts.
pub fn review_summary_messages(facts: &str) -> Vec<Message> {
    let system = format!(
        "You summarise customer reviews for a shop owner in three sentences: what customers like, what they complain about, and which product needs attention. Choose from these facts.\n\n{facts}"
    );
    vec![Message::new("system", &system), Message::new("user", "Summarise the reviews.")]
}

/// "Here is what I found:" — before the list of suggestions.
pub fn intro(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Here is what I found:",
        Lang::De => "Das habe ich gefunden:",
        Lang::Zh => "我为您找到了这些：",
    }
}

/// The honest answer when nothing in the catalog fits.
pub fn nothing_fits(lang: Lang, closest_categories: &[String], constrained: bool) -> String {
    let cats = closest_categories.join(", ");
    match (lang, constrained, cats.is_empty()) {
        (Lang::En, true, false) => {
            format!("Sorry, nothing in our catalog fits all of that. The closest things we carry are in: {cats}.")
        }
        (Lang::En, false, false) => format!("Sorry, we don't seem to sell that. Our closest categories are: {cats}."),
        (Lang::En, _, true) => "Sorry, we don't seem to sell anything like that.".into(),
        (Lang::De, true, false) => {
            format!("Leider passt nichts in unserem Sortiment zu all dem. Am ehesten finden Sie etwas in: {cats}.")
        }
        (Lang::De, false, false) => {
            format!("Das führen wir leider nicht. Am nächsten kommen diese Kategorien: {cats}.")
        }
        (Lang::De, _, true) => "Das führen wir leider nicht.".into(),
        (Lang::Zh, true, false) => format!("抱歉，我们的商品中没有完全符合这些条件的。最接近的类别是：{cats}。"),
        (Lang::Zh, false, false) => format!("抱歉，我们似乎没有销售这类商品。最接近的类别是：{cats}。"),
        (Lang::Zh, _, true) => "抱歉，我们似乎没有销售这类商品。".into(),
    }
}

/// The answer when no policy passage covers a question.
pub fn dont_know(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "I don't know — please contact the shop.",
        Lang::De => "Das weiß ich leider nicht — bitte wenden Sie sich an den Shop.",
        Lang::Zh => "我不知道——请联系商店。",
    }
}

/// Separator between a product's title and its reason.
pub const TITLE_SEPARATOR: &str = " — ";
