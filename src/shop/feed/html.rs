//! HTML in feeds (Shopify's `body_html`, WooCommerce descriptions, JSON-LD pages) as plain text.
//!
//! html5ever (through `scraper`) parses it as a browser would, so entities, unclosed tags and
//! comments come out right. Scripts, styles and other non-text elements are dropped with their
//! content; block elements (paragraphs, list items, headings, table rows, `<br>`) end a line.
//! The result is text for the catalog, which the widget shows as text, never as HTML.

use ego_tree::NodeRef;
use scraper::{Html, Node};

/// Elements whose content is never text a shopper should read.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "head", "select", "button",
    "form",
];

/// Elements that start and end a line.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "hr",
    "figure",
    "figcaption",
    "address",
    "main",
    "aside",
];

/// `html` as text: lines of collapsed whitespace, empty lines dropped. Text without markup or
/// entities comes back with only its whitespace tidied.
pub fn to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return tidy(html);
    }
    let doc = Html::parse_fragment(html);
    let mut out = String::new();
    walk(doc.tree.root(), &mut out);
    tidy(&out)
}

fn walk(node: NodeRef<'_, Node>, out: &mut String) {
    for child in node.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                let name = e.name();
                if DROPPED.contains(&name) {
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    out.push('\n');
                }
                if name == "td" || name == "th" {
                    out.push(' ');
                }
                walk(child, out);
                if block {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
}

/// Each line's whitespace collapsed, blank lines dropped.
fn tidy(text: &str) -> String {
    text.lines().map(super::clean_line).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn markup_becomes_lines_of_text() {
        let html = "<p>Warm &amp; light.</p><ul><li>Down fill</li><li>800 g</li></ul><script>alert(1)</script>";
        assert_eq!(to_text(html), "Warm & light.\nDown fill\n800 g");
        assert_eq!(to_text("Plain   text\n\n here"), "Plain text\nhere");
        assert_eq!(to_text("<b>Bold</b> <i>and</i> <br>broken <p>unclosed"), "Bold and\nbroken\nunclosed");
        assert_eq!(to_text("<style>p{}</style><img src=x onerror=alert(1)>Safe"), "Safe");
        assert_eq!(to_text("5 &lt; 7 &#x263A;"), "5 < 7 ☺");
    }
}
