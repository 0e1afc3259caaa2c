//! `aisle`: the native command line over the same library the browser runs.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use aisle::device::{self, DeviceKind};
use aisle::gguf::Gguf;
use aisle::model::LlamaConfig;
use aisle::shop::feed;
use aisle::shop::{Answer, AssistEvent, Catalog, Event, Lang, Policies, Profile, Shop, SuggestOptions, Suggestion};
use aisle::tokenizer::Tokenizer;
use aisle::{Engine, GenerateOptions, Generation, LoadOptions, Message, SamplerConfig};

#[derive(Parser)]
#[command(name = "aisle", version, about = "Run a Llama-family GGUF model (SmolLM2, Llama 3.2, Qwen2) locally")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Architecture, sizes and tensor type census of a GGUF file.
    Info { model: PathBuf },
    /// Token ids of the UTF-8 text on stdin, as a JSON array.
    Tokenize {
        #[arg(long)]
        model: PathBuf,
        /// Parse special-token text such as `<|im_start|>` into its token.
        #[arg(long)]
        special: bool,
    },
    /// Generate a reply to a chat, streamed to stdout.
    Generate(GenerateArgs),
    /// Suggest products from a catalog for a shopper's request (grounded: only catalog items).
    Suggest(SuggestArgs),
    /// Answer a service question from the shop's policies (or say it is not covered).
    Answer(AnswerArgs),
    /// A conversation: one shopper message per line on stdin, one reply per message.
    Converse(ConverseArgs),
    /// Prefill and decode speed: a prompt of token ids, then greedy tokens; medians.
    Bench(BenchArgs),
    /// The shop's catalog: build it from the product feeds the shop already has.
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Read Merchant Center (XML or TSV), Shopify products.json, WooCommerce CSV or schema.org
    /// JSON-LD pages into one catalog; a report of what was kept and skipped goes to stderr.
    Import(ImportArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    /// Feed files of one shop. Files in another language than the first (or than --lang) give
    /// their products' titles and descriptions to `i18n`; `de=feed.xml` says a file's language
    /// where the feed does not.
    #[arg(required = true)]
    files: Vec<String>,
    /// auto (by content), google, shopify, woocommerce or jsonld.
    #[arg(long, default_value = "auto")]
    format: String,
    /// The catalog's main language (default: the first file's).
    #[arg(long)]
    lang: Option<String>,
    /// ISO 4217 currency for feeds that carry none (Shopify products.json, WooCommerce CSV).
    #[arg(long)]
    currency: Option<String>,
    /// Where to write the catalog JSON (default: stdout).
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct BenchArgs {
    #[arg(long)]
    model: PathBuf,
    /// A JSON file with the prompt's token ids (an array, or an object with "ids").
    #[arg(long)]
    ids: PathBuf,
    /// Tokens to generate after the prompt.
    #[arg(long = "gen", default_value_t = 128)]
    generate: usize,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print one JSON line: {"prefill_tps","decode_tps","device","weight_bytes","runs":[...]}.
    #[arg(long)]
    json: bool,
    /// CPU path: decode with 8-bit activations (llama.cpp's arithmetic; faster, but greedy
    /// replies may differ from the f32 ones).
    #[arg(long)]
    int8_decode: bool,
}

#[derive(clap::Args)]
struct SuggestArgs {
    #[arg(long)]
    model: PathBuf,
    /// The shop's catalog JSON (schema in README.md).
    #[arg(long)]
    catalog: PathBuf,
    #[arg(long)]
    request: String,
    /// The sentence encoder (retrieval by meaning as well as words); default: the
    /// multilingual-e5-small.q4.bin beside the model; "none" for words alone.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// On-page events as a JSON array: [{"type":"view","id":..}, {"type":"search","text":..}].
    #[arg(long)]
    profile: Option<PathBuf>,
    /// en, de or zh (default: detected from the request).
    #[arg(long)]
    lang: Option<String>,
    #[arg(long, default_value = "auto")]
    device: String,
    /// Print only one JSON line at the end: {"products":[ids],"text":"..."}.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct AnswerArgs {
    #[arg(long)]
    model: PathBuf,
    /// The shop's policies JSON (schema in README.md).
    #[arg(long)]
    policies: PathBuf,
    #[arg(long)]
    question: String,
    #[arg(long)]
    lang: Option<String>,
    #[arg(long, default_value = "auto")]
    device: String,
    /// Print only one JSON line at the end: {"passage":id|null,"text":"..."}.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ConverseArgs {
    #[arg(long)]
    model: PathBuf,
    /// The shop's catalog JSON (schema in README.md).
    #[arg(long)]
    catalog: PathBuf,
    /// The shop's policies JSON, for service questions.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// The sentence encoder (retrieval by meaning as well as words); default: the
    /// multilingual-e5-small.q4.bin beside the model; "none" for words alone.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// en, de or zh (default: detected from each message).
    #[arg(long)]
    lang: Option<String>,
    #[arg(long, default_value = "auto")]
    device: String,
    /// One JSON line per message: {"kind","products":[ids],"passage":id|null,"text"}.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct GenerateArgs {
    #[arg(long)]
    model: PathBuf,
    /// The user's message.
    #[arg(long, conflicts_with = "messages", required_unless_present = "messages")]
    prompt: Option<String>,
    /// A system message to go before the prompt.
    #[arg(long, requires = "prompt")]
    system: Option<String>,
    /// A JSON file holding an array of {"role", "content"} messages.
    #[arg(long)]
    messages: Option<PathBuf>,
    #[arg(long, default_value_t = 256)]
    max_tokens: usize,
    /// 0 means greedy.
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// gpu (wgpu: Vulkan natively), cpu (burn's CPU backend), or auto (gpu when one exists).
    #[arg(long, default_value = "auto")]
    device: String,
    /// Longest conversation in tokens (sizes the KV cache).
    #[arg(long, default_value_t = 2048)]
    max_context: usize,
    /// CPU path: decode with 8-bit activations (llama.cpp's arithmetic; faster, but greedy
    /// replies may differ from the f32 ones).
    #[arg(long)]
    int8_decode: bool,
    /// Keep generating past end-of-generation tokens (to compare with references).
    #[arg(long, hide = true)]
    ignore_eos: bool,
    /// Print only one JSON line at the end: prompt and generated token ids, text, speeds.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info { model } => info(&model),
        Command::Tokenize { model, special } => tokenize(&model, special),
        Command::Generate(args) => generate(&args),
        Command::Suggest(args) => suggest(&args),
        Command::Answer(args) => answer(&args),
        Command::Converse(args) => converse(&args),
        Command::Bench(args) => bench(&args),
        Command::Catalog(CatalogCommand::Import(args)) => import(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn import(args: &ImportArgs) -> CliResult {
    let format = feed::Format::parse(&args.format)
        .ok_or_else(|| format!("--format {:?}: expected auto, google, shopify, woocommerce or jsonld", args.format))?;
    let currency = args.currency.as_deref().map(str::trim).map(str::to_ascii_uppercase);
    if let Some(c) = &currency
        && !(c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
    {
        return Err(format!("--currency {c:?}: expected an ISO 4217 code such as USD or EUR").into());
    }
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let options = feed::ImportOptions::at(currency, now_ms);
    let mut sources = Vec::new();
    for arg in &args.files {
        let (lang, path) = feed_arg(arg);
        let bytes = read_file(Path::new(path))?;
        let items = feed::read(path, &bytes, format, &options)?;
        sources.push(feed::Source { file: path.to_string(), items, lang });
    }
    let (catalog, report) = feed::merge(sources, args.lang.as_deref())?;
    for line in &report.lines {
        eprintln!("{line}");
    }
    eprintln!("kept {} products in all; {} items skipped", report.kept, report.skipped);
    let json = feed::to_json(&catalog);
    match &args.output {
        Some(path) => std::fs::write(path, json + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => println!("{json}"),
    }
    Ok(())
}

/// `de=feed.xml` is a file with its language; anything else is a path.
fn feed_arg(arg: &str) -> (Option<String>, &str) {
    match arg.split_once('=') {
        Some((lang, path))
            if !Path::new(arg).exists()
                && (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            (Some(lang.to_ascii_lowercase()), path)
        }
        _ => (None, arg),
    }
}

fn info(path: &Path) -> CliResult {
    let bytes = read_file(path)?;
    let g = Gguf::parse(&bytes)?;
    println!("file: {} ({} bytes, GGUF v{})", path.display(), bytes.len(), g.version);
    let name = g.get("general.name").and_then(|v| v.as_str()).unwrap_or("(unnamed)");
    println!("name: {name}");
    println!("metadata keys: {}, tensors: {}, alignment: {}", g.metadata.len(), g.tensors.len(), g.alignment);

    let mut census: BTreeMap<String, (usize, u64, u64)> = BTreeMap::new();
    for t in &g.tensors {
        let e = census.entry(t.ggml_type.name()).or_default();
        e.0 += 1;
        e.1 += t.n_elements();
        e.2 += t.n_bytes;
    }
    println!("tensor types:");
    for (ty, (count, elements, n_bytes)) in &census {
        println!("  {ty:<6} {count:>4} tensors {elements:>12} elements {n_bytes:>12} bytes");
    }
    let cfg = LlamaConfig::from_gguf(&g)?;
    println!("architecture: {}", cfg.architecture);
    println!(
        "layers: {}, embedding: {}, feed-forward: {}, heads: {} (KV heads: {}, head dim: {})",
        cfg.n_layers, cfg.n_embd, cfg.n_ff, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    );
    println!(
        "rope: {:?} over {} dims, base {}; rms eps {}; context {}; vocab {}",
        cfg.rope_kind, cfg.rope_dims, cfg.rope_base, cfg.rms_eps, cfg.context_length, cfg.vocab_size
    );
    println!("tied embeddings: {}", g.tensor("output.weight").is_none());
    let tok = Tokenizer::from_gguf(&g)?;
    println!("tokenizer: {} tokens, end of generation {:?}", tok.vocab_size(), tok.end_of_generation());
    Ok(())
}

fn tokenize(path: &Path, special: bool) -> CliResult {
    let bytes = read_file(path)?;
    let g = Gguf::parse(&bytes)?;
    let tok = Tokenizer::from_gguf(&g)?;
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| format!("stdin is not UTF-8 text: {e}"))?;
    let ids = tok.encode(&text, special)?;
    println!("{}", serde_json::to_string(&ids)?);
    Ok(())
}

fn messages(args: &GenerateArgs) -> Result<Vec<Message>, Box<dyn std::error::Error>> {
    if let Some(path) = &args.messages {
        let text = String::from_utf8(read_file(path)?).map_err(|_| format!("{} is not UTF-8", path.display()))?;
        let msgs: Vec<Message> = serde_json::from_str(&text)
            .map_err(|e| format!("{}: expected an array of {{\"role\", \"content\"}}: {e}", path.display()))?;
        return Ok(msgs);
    }
    let mut msgs = Vec::new();
    if let Some(system) = &args.system {
        msgs.push(Message::new("system", system));
    }
    msgs.push(Message::new("user", args.prompt.as_deref().unwrap_or_default()));
    Ok(msgs)
}

fn open_device(choice: &str) -> Result<burn::tensor::Device, Box<dyn std::error::Error>> {
    if choice == "auto" {
        let Ok(gpu) = pollster::block_on(device::open(DeviceKind::Gpu)) else {
            return Ok(pollster::block_on(device::open(DeviceKind::Cpu))?);
        };
        // A software adapter (Mesa's lavapipe on a machine without a GPU) compiles every
        // kernel on its first use: a one-shot command paid ~35 s for what the CPU path answers
        // in about one, so "auto" takes the CPU there.
        let name = device::describe(&gpu).to_lowercase();
        let software = ["llvmpipe", "lavapipe", "swiftshader", "software"].iter().any(|s| name.contains(s));
        return Ok(if software { pollster::block_on(device::open(DeviceKind::Cpu))? } else { gpu });
    }
    Ok(pollster::block_on(device::open(choice.parse()?))?)
}

fn generate(args: &GenerateArgs) -> CliResult {
    let msgs = messages(args)?;
    let sampler = SamplerConfig {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        repetition_penalty: args.repetition_penalty,
        seed: args.seed,
        ..SamplerConfig::default()
    };
    sampler.validate()?;
    let device = open_device(&args.device)?;
    let bytes = read_file(&args.model)?;
    let engine = Engine::load(
        &bytes,
        &device,
        &LoadOptions { max_context: args.max_context, int8_decode: args.int8_decode, ..LoadOptions::default() },
    )?;
    drop(bytes);
    let engine = Arc::new(engine);
    let fitted = engine.fit_chat(&msgs, args.max_tokens)?;
    if fitted.dropped > 0 || fitted.cut {
        let cut = if fitted.cut { ", and the newest message's beginning" } else { "" };
        eprintln!("note: the chat is longer than the context: left out the {} oldest message(s){cut}", fitted.dropped);
    }
    let (prompt, max_tokens) = (fitted.prompt, fitted.max_reply);
    let options = GenerateOptions { max_tokens, sampler, stop_at_eog: !args.ignore_eos };
    let mut generation = Generation::new(engine.clone(), prompt, options)?;

    let mut stdout = std::io::stdout().lock();
    let mut text = String::new();
    while let Some(step) = pollster::block_on(generation.next())? {
        if !args.json {
            stdout.write_all(step.text.as_bytes())?;
            stdout.flush()?;
        }
        text.push_str(&step.text);
    }
    let t = generation.timings();
    if args.json {
        let line = serde_json::json!({
            "prompt_tokens": generation.prompt_tokens(),
            "tokens": generation.generated_tokens(),
            "text": text,
            "prefill_tps": t.prefill_tps(),
            "decode_tps": t.decode_tps(),
            "device": device::describe(&device),
        });
        writeln!(stdout, "{line}")?;
    } else {
        writeln!(stdout)?;
        eprintln!(
            "[{}: prompt {} tokens at {:.1} tok/s, reply {} tokens at {:.1} tok/s]",
            device::describe(&device),
            t.prefill_tokens,
            t.prefill_tps(),
            generation.generated_tokens().len(),
            t.decode_tps()
        );
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read_file(path)?).map_err(|_| format!("{} is not UTF-8", path.display()))
}

fn load_engine(model: &Path, device: &str) -> Result<Arc<Engine>, Box<dyn std::error::Error>> {
    let device = open_device(device)?;
    let bytes = read_file(model)?;
    Ok(Arc::new(Engine::load(&bytes, &device, &LoadOptions::default())?))
}

/// The shop searching by meaning too, with the encoder `--encoder` names (default: the one
/// beside the model; a missing default is said on stderr and words alone answer). Product
/// vectors are kept under the user's cache directory, keyed by encoder and catalog, so only
/// the first request on a catalog embeds it.
fn with_meaning(shop: Shop, model: &Path, encoder: &Option<PathBuf>) -> Result<Shop, Box<dyn std::error::Error>> {
    use aisle::shop::meaning::Meaning;
    let path = match encoder {
        Some(p) if p.as_os_str() == "none" => return Ok(shop),
        Some(p) => p.clone(),
        None => {
            let p = model.with_file_name("multilingual-e5-small.q4.bin");
            if !p.exists() {
                eprintln!("note: no sentence encoder at {} (make setup fetches it): words alone answer", p.display());
                return Ok(shop);
            }
            p
        }
    };
    let bytes = read_file(&path)?;
    let encoder =
        Arc::new(aisle::encoder::Encoder::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    let key = Meaning::key(&digest, &shop.catalog, shop.policies.as_ref());
    let cache = std::env::var_os("AISLE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/aisle")))
        .map(|d| d.join("vectors").join(format!("{key}.f32")));
    let stored = cache
        .as_ref()
        .and_then(|c| std::fs::read(c).ok())
        .map(|b| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<f32>>());
    if let Some(m) =
        stored.and_then(|v| Meaning::with_vectors(encoder.clone(), &shop.catalog, shop.policies.as_ref(), v))
    {
        return Ok(shop.with_meaning(m));
    }
    if shop.catalog.len() > 500 {
        eprintln!(
            "note: embedding {} products for retrieval by meaning, once (kept under the cache directory)",
            shop.catalog.len()
        );
    }
    let shop = shop.with_encoder(encoder);
    if let (Some(c), Some(m)) = (&cache, shop.meaning()) {
        let bytes: Vec<u8> = m.vectors().iter().flat_map(|v| v.to_le_bytes()).collect();
        // A cache that cannot be written costs time on the next call, nothing else.
        let _ = c.parent().map(std::fs::create_dir_all).and_then(|_| std::fs::write(c, bytes).ok());
    }
    Ok(shop)
}

fn parse_lang(code: &Option<String>) -> Result<Option<Lang>, String> {
    match code.as_deref() {
        None | Some("auto") => Ok(None),
        Some(c) => {
            Lang::from_code(c).map(Some).ok_or_else(|| format!("unknown language {c:?} (expected en, de or zh)"))
        }
    }
}

/// What a suggestion or answer said, collected from its events.
#[derive(Default)]
struct Said {
    text: String,
    products: Vec<String>,
    passage: Option<String>,
}

/// Prints events as they come: text as is, products as `[id]` markers (the widget shows cards).
fn stream_events(
    json: bool,
    mut next: impl FnMut() -> Result<Option<AssistEvent>, aisle::EngineError>,
) -> Result<Said, Box<dyn std::error::Error>> {
    let mut stdout = std::io::stdout().lock();
    let Said { mut text, mut products, mut passage } = Said::default();
    while let Some(e) = next()? {
        match e {
            AssistEvent::Text { text: t } => {
                if !json {
                    stdout.write_all(t.as_bytes())?;
                    stdout.flush()?;
                }
                text.push_str(&t);
            }
            AssistEvent::Product { id } => {
                if !json {
                    write!(stdout, "[{id}] ")?;
                }
                products.push(id);
            }
            AssistEvent::Passage { id } => {
                if !json {
                    writeln!(stdout, "[policy: {id}]")?;
                }
                passage = Some(id);
            }
        }
    }
    if !json {
        writeln!(stdout)?;
    }
    Ok(Said { text, products, passage })
}

fn suggest(args: &SuggestArgs) -> CliResult {
    let catalog = Catalog::parse(&read_text(&args.catalog)?)?;
    let events: Vec<Event> = match &args.profile {
        Some(p) => serde_json::from_str(&read_text(p)?)
            .map_err(|e| format!("{}: expected an array of events: {e}", p.display()))?,
        None => Vec::new(),
    };
    let lang = parse_lang(&args.lang)?;
    let engine = load_engine(&args.model, &args.device)?;
    let shop = Arc::new(with_meaning(Shop::new(catalog, None), &args.model, &args.encoder)?);
    let profile = Profile::from_events(&events, &shop.catalog, |t| shop.search_categories(t));
    let opts = SuggestOptions { lang, ..SuggestOptions::default() };
    // Timed from the request (the model is loaded): what a shopper waits for.
    let start = std::time::Instant::now();
    let mut s = Suggestion::new(engine, shop, &args.request, Some(&profile), opts)?;
    let said = stream_events(args.json, || pollster::block_on(s.next()))?;
    if args.json {
        let work = s.work();
        let timing = serde_json::json!({
            "prefill_tokens": work.prefill_tokens,
            "scored_tokens": work.scored_tokens,
            "ms": (start.elapsed().as_secs_f64() * 1e4).round() / 10.0,
        });
        println!("{}", serde_json::json!({ "products": said.products, "text": said.text, "timing": timing }));
    }
    Ok(())
}

fn answer(args: &AnswerArgs) -> CliResult {
    let policies = Policies::parse(&read_text(&args.policies)?)?;
    let lang = parse_lang(&args.lang)?;
    let engine = load_engine(&args.model, &args.device)?;
    let shop = Shop::new(Catalog::default(), Some(policies));
    let mut a = Answer::new(engine, &shop, &args.question, lang, aisle::shop::route::ANSWER_MIN_RELEVANCE)?;
    let said = stream_events(args.json, || pollster::block_on(a.next()))?;
    if args.json {
        println!("{}", serde_json::json!({ "passage": said.passage, "text": said.text }));
    }
    Ok(())
}

fn converse(args: &ConverseArgs) -> CliResult {
    use aisle::shop::dialogue::{Dialogue, Kind, Step};
    let catalog = Catalog::parse(&read_text(&args.catalog)?)?;
    let policies = match &args.policies {
        Some(p) => Some(Policies::parse(&read_text(p)?)?),
        None => None,
    };
    let lang = parse_lang(&args.lang)?;
    let engine = load_engine(&args.model, &args.device)?;
    let shop = Arc::new(with_meaning(Shop::new(catalog, policies), &args.model, &args.encoder)?);
    let mut dialogue = Dialogue::new(shop.clone(), lang);
    let mut line = String::new();
    let stdin = std::io::stdin();
    loop {
        line.clear();
        if stdin.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let message = line.trim();
        if message.is_empty() {
            continue;
        }
        let (kind, said) = match dialogue.respond(message) {
            Step::Suggest { request, opts } => {
                let mut s = Suggestion::new(engine.clone(), shop.clone(), &request, None, opts)?;
                let said = stream_events(args.json, || pollster::block_on(s.next()))?;
                dialogue.shown(&said.products);
                (Kind::Suggest, said)
            }
            Step::Answer { question, lang } => {
                let min = aisle::shop::route::ANSWER_MIN_RELEVANCE;
                let mut a = Answer::new(engine.clone(), &shop, &question, Some(lang), min)?;
                let said = stream_events(args.json, || pollster::block_on(a.next()))?;
                dialogue.answered();
                (Kind::Answer, said)
            }
            Step::Said(s) => {
                if !args.json {
                    println!("{}", s.text);
                }
                (s.kind, Said { text: s.text, products: s.products, passage: None })
            }
        };
        if args.json {
            let out = serde_json::json!({ "kind": kind, "products": said.products, "passage": said.passage, "text": said.text });
            println!("{out}");
        }
        std::io::stdout().flush()?;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(args: &BenchArgs) -> CliResult {
    let v: serde_json::Value = serde_json::from_str(&read_text(&args.ids)?)?;
    let ids: Vec<u32> = serde_json::from_value(v.get("ids").cloned().unwrap_or(v))
        .map_err(|e| format!("{}: expected token ids: {e}", args.ids.display()))?;
    let device = open_device(&args.device)?;
    let bytes = read_file(&args.model)?;
    let options = LoadOptions {
        max_context: ids.len() + args.generate + 8,
        int8_decode: args.int8_decode,
        ..LoadOptions::default()
    };
    let engine = Arc::new(Engine::load(&bytes, &device, &options)?);
    drop(bytes);
    // One untimed run compiles kernels and warms caches.
    pollster::block_on(aisle::generate::benchmark(engine.clone(), ids.clone(), 4))?;
    let mut runs = Vec::new();
    for _ in 0..args.reps.max(1) {
        runs.push(pollster::block_on(aisle::generate::benchmark(engine.clone(), ids.clone(), args.generate))?);
    }
    let prefill = median(runs.iter().map(|r| r.0).collect());
    let decode = median(runs.iter().map(|r| r.1).collect());
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "prefill_tps": prefill, "decode_tps": decode, "device": device::describe(&device),
                "path": format!("{:?}", engine.model.path()), "weight_bytes": engine.model.weight_bytes(),
                "runs": runs.iter().map(|r| serde_json::json!({"prefill_tps": r.0, "decode_tps": r.1})).collect::<Vec<_>>(),
            })
        );
    } else {
        println!(
            "{}: prefill {prefill:.1} tok/s, decode {decode:.1} tok/s ({} runs)",
            device::describe(&device),
            runs.len()
        );
    }
    Ok(())
}
