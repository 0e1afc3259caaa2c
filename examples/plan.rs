//! Prints the retrieval plan (candidates, relevance, constraints) for requests given as
//! arguments, against the demo shop: a quick look at ranking without running the model.
use aisle::shop::{Catalog, Policies, Shop, SuggestOptions, route, suggest};

fn main() {
    let catalog = Catalog::parse(&std::fs::read_to_string("demo/catalog.json").unwrap()).unwrap();
    let policies = Policies::parse(&std::fs::read_to_string("demo/policies.json").unwrap()).unwrap();
    let shop = Shop::new(catalog, Some(policies));
    let opts = SuggestOptions { min_relevance: 0.0, ..SuggestOptions::default() };
    for request in std::env::args().skip(1) {
        let plan = suggest::plan(&shop, &request, None, &opts);
        let policy = shop.policies.as_ref().unwrap().best(&request);
        println!(
            "{request}  [{:?}, {:?}] route={:?} policy={:?}",
            plan.lang,
            plan.constraints,
            route::route(&shop, &request),
            policy.map(|h| (shop.policies.as_ref().unwrap().passages[h.index].id.clone(), h.relevance))
        );
        for (id, r) in plan.candidates.iter().zip(&plan.relevance) {
            println!("   {r:.3} {id} {}", shop.catalog.get(id).unwrap().title);
        }
    }
}
