//! Prints the retrieval plan (candidates, relevance, constraints) for requests given as
//! arguments, against the demo shop (or the catalog in `CATALOG`, without policies): a quick
//! look at ranking without running the model or the encoder.
use aisle::shop::{Catalog, Policies, Shop, SuggestOptions, route, suggest};

fn main() {
    let path = std::env::var("CATALOG").unwrap_or_else(|_| "demo/catalog.json".into());
    let catalog = Catalog::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let policies = (path == "demo/catalog.json")
        .then(|| Policies::parse(&std::fs::read_to_string("demo/policies.json").unwrap()).unwrap());
    let shop = Shop::new(catalog, policies);
    let opts = SuggestOptions { min_relevance: 0.0, ..SuggestOptions::default() };
    for request in std::env::args().skip(1) {
        let plan = suggest::plan(&shop, &request, None, &opts);
        let policy = shop.policies.as_ref().and_then(|p| p.best(&request));
        println!(
            "{request}  [{:?}, {:?}] route={:?} policy={:?}",
            plan.lang,
            plan.constraints,
            route::route(&shop, &request),
            policy.map(|h| (shop.policies.as_ref().unwrap().passages[h.index].id.clone(), h.relevance))
        );
        println!("   words {:?}", shop.index.request_words(&request));
        for (id, r) in plan.candidates.iter().zip(&plan.relevance) {
            println!("   {r:.3} {id} {}", shop.catalog.get(id).unwrap().title);
        }
    }
}
