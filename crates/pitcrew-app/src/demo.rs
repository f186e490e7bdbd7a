//! The demo workspace behind `pitcrew demo`: a fictional B2B company with
//! accounts, contacts, custom fields and a short audit trail, so a newcomer
//! can sign in and try pitcrew on data that looks like a real CRM export.

use std::collections::HashSet;

mod campaign;

use pitcrew_core::admin::{ObjectType, Role, Workspace};
use pitcrew_core::record::{Mode, ObjectKind, PicklistOption, validate_record};
use pitcrew_core::time::format_ms;
use pitcrew_store::audit::{self, Change};
use pitcrew_store::record::{self as repo, Identity};
use pitcrew_store::{Db, Tx};
use serde_json::{Map, Value, json};

use crate::admin::{create_workspace, upsert_user};
use crate::record::{NewField, RecordPatch, create_field, update_record};
use crate::secret::random_hex;
use crate::{Actor, AppError, ErrorKind};

/// The slug of the demo workspace.
pub const DEMO_SLUG: &str = "demo";
/// Fixed so that every `pitcrew demo` builds the same records, which makes
/// screenshots, docs and bug reports about the demo reproducible.
const SEED: u64 = 0x7069_7463_7265_7721;
const DAY_MS: i64 = 86_400_000;

/// What `pitcrew demo` prints so a newcomer can sign in.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub workspace: Workspace,
    pub email: String,
    pub password: String,
    pub contacts: i64,
    pub accounts: i64,
    pub created: bool,
}

/// How many records the demo gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoScale {
    pub accounts: usize,
    pub contacts: usize,
}

impl Default for DemoScale {
    fn default() -> DemoScale {
        DemoScale {
            accounts: 300,
            contacts: 3000,
        }
    }
}

/// The demo's people: (email, name, role). The owner comes first.
const MEMBERS: [(&str, &str, Role); 4] = [
    ("owner@demo.pitcrew.dev", "Olivia Owner", Role::Owner),
    ("admin@demo.pitcrew.dev", "Adam Admin", Role::Admin),
    ("marketer@demo.pitcrew.dev", "Maya Marketer", Role::Marketer),
    ("viewer@demo.pitcrew.dev", "Victor Viewer", Role::Viewer),
];
/// Record owners: the members who work with records.
const OWNERS: [&str; 3] = [MEMBERS[0].0, MEMBERS[1].0, MEMBERS[2].0];

// ---- word lists ---------------------------------------------------------

/// Tables, one entry a line where it fits: easier to read and extend than
/// one word a line.
#[rustfmt::skip]
mod words {
    use pitcrew_core::record::FieldType::{self, *};
    use pitcrew_core::record::ObjectKind::{self, *};

    pub struct Names {
        pub first: &'static [&'static str],
        pub last: &'static [&'static str],
    }

    const ENGLISH: Names = Names { first: &["James", "Mary", "Robert", "Jennifer", "Michael", "Linda", "David", "Sarah", "Emily", "Daniel", "Jessica", "Chris", "Olivia", "Ethan", "Grace", "Liam"],
        last: &["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark", "Walker", "Hughes", "Evans", "Campbell", "Murphy", "O'Brien"] };
    const GERMAN: Names = Names { first: &["Lukas", "Anna", "Jonas", "Lea", "Felix", "Sophie", "Maximilian", "Hannah", "Jürgen", "Katrin", "Stefan", "Julia", "Matthias", "Sabine"],
        last: &["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer", "Koch", "Richter", "Krüger", "Weiß"] };
    const FRENCH: Names = Names { first: &["Jean", "Marie", "Pierre", "Camille", "Louis", "Chloé", "Julien", "Élodie", "Nicolas", "Manon", "François", "Léa", "Jean-Luc"],
        last: &["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy", "Moreau", "Lefèvre", "Garnier", "Fontaine"] };
    const SPANISH: Names = Names { first: &["Alejandro", "Lucía", "Javier", "María", "Carlos", "Sofía", "Pablo", "Carmen", "Diego", "Elena", "Sergio", "Laura"],
        last: &["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno"] };
    const ITALIAN: Names = Names { first: &["Marco", "Giulia", "Alessandro", "Francesca", "Luca", "Chiara", "Matteo", "Sara", "Giuseppe", "Valentina", "Davide", "Elena"],
        last: &["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Conti"] };
    const DUTCH: Names = Names { first: &["Daan", "Emma", "Sem", "Julia", "Lucas", "Sanne", "Thijs", "Fleur", "Bram", "Lotte", "Jeroen", "Anouk"],
        last: &["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos"] };
    const SWEDISH: Names = Names { first: &["Erik", "Anna", "Lars", "Karin", "Johan", "Elin", "Anders", "Sofia", "Oskar", "Maja", "Nils", "Ingrid"],
        last: &["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Lindqvist", "Berg", "Åkesson"] };
    const JAPANESE: Names = Names { first: &["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Takumi", "Sakura", "Kenji", "Yuki", "Hiroshi", "Mei"],
        last: &["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada"] };
    const BRAZILIAN: Names = Names { first: &["João", "Ana", "Pedro", "Beatriz", "Lucas", "Mariana", "Gabriel", "Larissa", "Rafael", "Camila", "Thiago", "Juliana"],
        last: &["Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira", "Almeida", "Carvalho", "Ribeiro", "Gonçalves"] };
    const INDIAN: Names = Names { first: &["Aarav", "Priya", "Rahul", "Ananya", "Arjun", "Divya", "Vikram", "Sneha", "Rohan", "Kavya", "Aditya", "Meera"],
        last: &["Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Kumar", "Mehta", "Rao", "Joshi", "Desai"] };
    /// People move: a share of every country's contacts get a name from anywhere.
    pub const ALL_NAMES: [&Names; 10] = [&ENGLISH, &GERMAN, &FRENCH, &SPANISH, &ITALIAN, &DUTCH, &SWEDISH, &JAPANESE, &BRAZILIAN, &INDIAN];

    pub struct Country {
        pub code: &'static str,
        pub name: &'static str,
        pub weight: u64,
        pub names: &'static Names,
        /// Values of `preferred_language`; repeats weight them.
        pub languages: &'static [&'static str],
        pub tld: &'static str,
        pub legal: &'static [&'static str],
        /// National formats as people type them; `#` is a random digit. US, CA,
        /// GB and AU use the ranges reserved for fiction.
        pub phones: &'static [&'static str],
    }

    // A table row: its arguments are the columns.
    #[allow(clippy::too_many_arguments)]
    const fn country(code: &'static str, name: &'static str, weight: u64, names: &'static Names, languages: &'static [&'static str], tld: &'static str, legal: &'static [&'static str], phones: &'static [&'static str]) -> Country {
        Country { code, name, weight, names, languages, tld, legal, phones }
    }

    pub const COUNTRIES: &[Country] = &[
        country("US", "United States", 25, &ENGLISH, &["en"], ".com", &["Inc.", "LLC", "Corp."], &["(415) 555-01##", "(212) 555-01##", "(312) 555-01##", "(512) 555-01##"]),
        country("GB", "United Kingdom", 10, &ENGLISH, &["en"], ".co.uk", &["Ltd", "plc"], &["020 7946 0###", "0161 496 0###", "0117 496 0###"]),
        country("DE", "Germany", 12, &GERMAN, &["de"], ".de", &["GmbH", "AG", "GmbH & Co. KG"], &["030 ### ####", "089 ### ####", "040/### ####"]),
        country("FR", "France", 7, &FRENCH, &["fr"], ".fr", &["SAS", "SA"], &["01 ## ## ## ##", "04 ## ## ## ##"]),
        country("NL", "Netherlands", 5, &DUTCH, &["nl"], ".nl", &["B.V."], &["020 ### ####", "010-### ####"]),
        country("ES", "Spain", 5, &SPANISH, &["es"], ".es", &["S.L.", "S.A."], &["91 ### ## ##", "93 ### ## ##"]),
        country("IT", "Italy", 5, &ITALIAN, &["it"], ".it", &["S.p.A.", "S.r.l."], &["02 #### ####", "06 #### ####"]),
        country("CA", "Canada", 5, &ENGLISH, &["en", "en", "fr"], ".ca", &["Inc.", "Ltd."], &["(416) 555-01##", "(604) 555-01##"]),
        country("AU", "Australia", 4, &ENGLISH, &["en"], ".com.au", &["Pty Ltd"], &["(02) 5550 ####", "(03) 5550 ####"]),
        country("AT", "Austria", 3, &GERMAN, &["de"], ".at", &["GmbH", "AG"], &["01 ### ####", "0662 ### ###"]),
        country("CH", "Switzerland", 3, &GERMAN, &["de", "de", "fr", "it"], ".ch", &["AG", "GmbH", "SA"], &["044 ### ## ##", "022 ### ## ##"]),
        country("SE", "Sweden", 3, &SWEDISH, &["en"], ".se", &["AB"], &["08-### ### ##", "031-### ## ##"]),
        country("IN", "India", 5, &INDIAN, &["en"], ".in", &["Pvt Ltd", "Ltd"], &["022 #### ####", "080 #### ####"]),
        country("JP", "Japan", 4, &JAPANESE, &["en"], ".co.jp", &["K.K."], &["03-####-####", "06-####-####"]),
        country("BR", "Brazil", 4, &BRAZILIAN, &["en", "es"], ".com.br", &["Ltda.", "S.A."], &["(11) 3###-####", "(21) 2###-####"]),
    ];

    pub const HEADS: &[&str] = &["Nord", "Blue", "Silver", "Bright", "North", "Green", "Iron", "Swift", "Clear", "Summit", "Red", "Oak", "Stone", "Sun", "Alp", "Delta", "Vista", "Lumen", "Cobalt", "Maple", "Polar", "Terra", "Nova", "Fjord"];
    pub const TAILS: &[&str] = &["wind", "peak", "field", "bridge", "stream", "wave", "point", "gate", "forge", "line", "path", "leaf", "harbor", "rock", "light", "works"];
    /// Builtin industry value, weight, and words a company in it is named with.
    pub const INDUSTRIES: &[(&str, u64, &[&str])] = &[
        ("software", 30, &["Software", "Cloud", "Analytics", "Labs", "Digital"]),
        ("financial_services", 10, &["Capital", "Finance", "Insurance", "Payments"]),
        ("healthcare", 9, &["Health", "Medical", "Care", "Pharma"]),
        ("manufacturing", 12, &["Industries", "Manufacturing", "Robotics", "Machines"]),
        ("retail", 9, &["Retail", "Stores", "Goods", "Fashion"]),
        ("education", 5, &["Learning", "Academy", "Education"]),
        ("media", 6, &["Media", "Studios", "Publishing"]),
        ("telecommunications", 4, &["Telecom", "Networks", "Connect"]),
        ("energy", 5, &["Energy", "Power", "Solar"]),
        ("public_sector", 3, &["Transit", "Utilities", "Services"]),
        ("other", 7, &["Logistics", "Consulting", "Group", "Foods"]),
    ];
    /// Weight, employee range and the plans such a company buys.
    pub const SIZES: &[(u64, i64, i64, &[&str])] = &[
        (40, 5, 50, &["free", "free", "team"]),
        (35, 51, 500, &["team", "business"]),
        (20, 501, 5000, &["business", "enterprise"]),
        (5, 5001, 60_000, &["enterprise"]),
    ];
    /// Repeats weight the common titles.
    pub const TITLES: &[&str] = &[
        "Marketing Manager", "Marketing Manager", "Senior Marketing Manager", "Marketing Operations Manager",
        "Marketing Operations Manager", "Demand Generation Manager", "Content Marketing Manager",
        "Product Marketing Manager", "CRM Manager", "Head of Marketing", "CMO", "VP Marketing", "VP Sales",
        "Account Executive", "Sales Development Representative", "Head of Growth", "Customer Success Manager",
        "Event Manager", "Developer", "Software Engineer", "Data Analyst", "CTO", "CEO", "Founder",
    ];
    /// Lifecycle stages in funnel order with their share of contacts: a wide top, a narrow middle.
    pub const STAGES: &[(&str, u64)] = &[
        ("subscriber", 30), ("lead", 27), ("mql", 13), ("sal", 6), ("sql", 7), ("opportunity", 5), ("customer", 11), ("other", 1),
    ];
    pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish"), ("it", "Italian"), ("nl", "Dutch")];
    pub const INTERESTS: &[(&str, &str)] = &[("analytics", "Analytics"), ("automation", "Automation"), ("email", "Email"), ("events", "Events"), ("integrations", "Integrations")];
    pub const PLANS: &[(&str, &str)] = &[("free", "Free"), ("team", "Team"), ("business", "Business"), ("enterprise", "Enterprise")];
    /// The custom fields a marketing team typically adds: object, key, label, type, options.
    /// Object, key, label, type and options of a custom field.
    pub type FieldSpec = (ObjectKind, &'static str, &'static str, FieldType, &'static [(&'static str, &'static str)]);
    pub const CUSTOM_FIELDS: &[FieldSpec] = &[
        (Contact, "lead_score", "Lead score", Number, &[]),
        (Contact, "preferred_language", "Preferred language", Picklist, LANGUAGES),
        (Contact, "webinar_attendee", "Webinar attendee", Boolean, &[]),
        (Contact, "last_demo_date", "Last demo", Date, &[]),
        (Contact, "interests", "Interests", MultiPicklist, INTERESTS),
        (Account, "plan", "Plan", Picklist, PLANS),
        (Account, "renewal_date", "Renewal date", Date, &[]),
        (Account, "arr", "Annual recurring revenue", Number, &[]),
    ];
    /// How the letters of the names above are written in email addresses.
    pub const FOLDS: &[(&str, &str)] = &[("äæ", "ae"), ("öø", "oe"), ("ü", "ue"), ("ß", "ss"), ("àáâãå", "a"), ("ç", "c"), ("èéêë", "e"), ("ìíîï", "i"), ("ñ", "n"), ("òóôõ", "o"), ("ùúû", "u")];
    /// Reserved for examples (RFC 2606), for people who signed up privately.
    pub const PRIVATE_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];
}

use words::*;

// ---- generator ----------------------------------------------------------

/// SplitMix64: tiny and identical on every platform, unlike a seeded `rand`
/// whose stream may change between versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1).max(1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// The index of an item, each chosen in proportion to its weight.
    fn weighted<T>(&mut self, items: &[T], weight: impl Fn(&T) -> u64) -> usize {
        let mut roll = self.next() % items.iter().map(&weight).sum::<u64>().max(1);
        for (i, item) in items.iter().enumerate() {
            if roll < weight(item) {
                return i;
            }
            roll -= weight(item);
        }
        items.len() - 1
    }

    fn country(&mut self) -> &'static Country {
        &COUNTRIES[self.weighted(COUNTRIES, |c| c.weight)]
    }

    fn phone(&mut self, country: &Country) -> String {
        let template = self.pick(country.phones);
        let digit = |rng: &mut Rng| char::from(b'0' + (rng.next() % 10) as u8);
        template
            .chars()
            .map(|c| if c == '#' { digit(self) } else { c })
            .collect()
    }

    /// Mostly the ISO code, sometimes the name, as mixed CRM exports have it.
    fn country_value(&mut self, country: &Country) -> &'static str {
        if self.chance(15) {
            country.name
        } else {
            country.code
        }
    }
}

/// A name as it appears in an email address: ASCII, no spaces or apostrophes.
fn mail_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else if let Some((_, ascii)) = FOLDS.iter().find(|(from, _)| from.contains(c)) {
            out.push_str(ascii);
        }
    }
    out
}

fn day(now: i64, offset_days: i64) -> String {
    format_ms(now + offset_days * DAY_MS)[..10].to_string()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A generated record before it is validated and stored.
struct Draft {
    /// For contacts, the index of their account among the generated ones.
    account: Option<usize>,
    external_id: Option<String>,
    fields: Map<String, Value>,
}

/// What contacts borrow from the account they work at.
struct Company {
    name: String,
    domain: String,
    country: &'static Country,
    owner: &'static str,
    plan: &'static str,
}

fn account(rng: &mut Rng, n: usize, now: i64, taken: &mut HashSet<String>) -> (Company, Draft) {
    let country = rng.country();
    let (industry, _, words) = INDUSTRIES[rng.weighted(INDUSTRIES, |i| i.1)];
    let mut stem = String::new();
    for attempt in 0.. {
        stem = format!("{}{} {}", rng.pick(HEADS), rng.pick(TAILS), rng.pick(words));
        // The word lists run out long before a huge scale does.
        if attempt > 40 {
            stem = format!("{stem} {n}");
        }
        if taken.insert(stem.clone()) {
            break;
        }
    }
    let (_, lo, hi, plans) = SIZES[rng.weighted(SIZES, |s| s.0)];
    let employees = match rng.range(lo, hi) {
        e if e > 500 => e / 50 * 50,
        e => e,
    };
    let c = Company {
        name: format!("{stem} {}", rng.pick(country.legal)),
        // Under the reserved `.example` name, so demo addresses can never reach a real mailbox.
        domain: format!("{}{}.example", mail_name(&stem), country.tld),
        country,
        owner: rng.pick(&OWNERS),
        plan: rng.pick(plans),
    };
    let arr = match c.plan {
        "team" => rng.range(12, 120) * 100,
        "business" => rng.range(24, 120) * 500,
        "enterprise" => rng.range(60, 400) * 1000,
        _ => 0,
    };
    // Null is "no value" to the API, as it is here.
    let fields = object(json!({
        "name": c.name,
        "domain": c.domain,
        "industry": industry,
        "country": rng.country_value(country),
        "employees": employees,
        "annual_revenue": employees * rng.range(6, 25) * 10_000,
        "phone": rng.chance(80).then(|| rng.phone(country)),
        "website": rng.chance(70).then(|| format!("www.{}", c.domain)),
        "owner": c.owner,
        "plan": c.plan,
        "arr": (arr > 0).then_some(arr),
        "renewal_date": (arr > 0).then(|| day(now, rng.range(7, 365))),
    }));
    let external_id = Some(format!("crm-acc-{:05}", n + 1));
    (
        c,
        Draft {
            account: None,
            external_id,
            fields,
        },
    )
}

/// A contact and its lifecycle stage.
fn contact(
    rng: &mut Rng,
    n: usize,
    now: i64,
    companies: &[Company],
    emails: &mut HashSet<String>,
) -> (Draft, &'static str) {
    let account = (!companies.is_empty() && rng.chance(85)).then(|| rng.below(companies.len()));
    let company = account.map(|i| &companies[i]);
    let country = match company {
        Some(c) if rng.chance(85) => c.country,
        _ => rng.country(),
    };
    let names = if rng.chance(80) {
        country.names
    } else {
        rng.pick(&ALL_NAMES)
    };
    let (first, last) = (rng.pick(names.first), rng.pick(names.last));
    let domain = company.map_or_else(|| rng.pick(PRIVATE_DOMAINS), |c| c.domain.as_str());
    let local = format!("{}.{}", mail_name(first), mail_name(last));
    let mut email = format!("{local}@{domain}");
    for k in 2.. {
        if emails.insert(email.clone()) {
            break;
        }
        email = format!("{local}{k}@{domain}");
    }
    let funnel = rng.weighted(STAGES, |s| s.1);
    let stage = STAGES[funnel].0;
    let score = match stage {
        "other" => rng.range(0, 40),
        _ => (funnel as i64 * 12 + rng.range(0, 30)).min(100),
    };
    let owner = match company {
        Some(c) if rng.chance(90) => c.owner,
        _ => rng.pick(&OWNERS),
    };
    let demoed = match stage {
        "sql" | "opportunity" | "customer" => rng.chance(70),
        "mql" => rng.chance(10),
        _ => false,
    };
    let fields = object(json!({
        "email": email,
        "first_name": first,
        "last_name": last,
        "phone": rng.chance(70).then(|| rng.phone(country)),
        "country": rng.country_value(country),
        "company": company.map(|c| c.name.as_str()),
        "job_title": rng.pick(TITLES),
        "lifecycle_stage": stage,
        "owner": owner,
        "lead_score": score,
        "preferred_language": rng.chance(90).then(|| rng.pick(country.languages)),
        "webinar_attendee": rng.chance(65).then(|| if rng.chance(45) { "yes" } else { "no" }),
        "last_demo_date": demoed.then(|| day(now, -rng.range(1, 120))),
        "interests": rng.chance(45).then(|| {
            let k = rng.range(1, 3);
            (0..k).map(|_| rng.pick(INTERESTS).0).collect::<Vec<_>>().join("; ")
        }),
    }));
    let external_id = rng.chance(60).then(|| format!("crm-con-{:06}", n + 1));
    (
        Draft {
            account,
            external_id,
            fields,
        },
        stage,
    )
}

// ---- building -----------------------------------------------------------

/// Build (or, if the workspace `demo` already exists, reuse) the demo
/// workspace. On reuse only the owner's password is reset, to a fresh
/// random one, and the counts are returned with `created = false`.
pub async fn build_demo(db: &Db, now: i64, scale: DemoScale) -> Result<DemoLogin, AppError> {
    let password = new_password();
    let (email, name, _) = MEMBERS[0];
    let existing = pitcrew_store::admin::workspace_by_slug(db.conn(), DEMO_SLUG).await?;
    let created = existing.is_none();
    let workspace = match existing {
        Some(ws) => {
            upsert_user(db, &ws, email, name, &password, Role::Owner, now).await?;
            ws
        }
        None => populate(db, now, scale, &password).await?,
    };
    let id = workspace.id;
    let count = |kind| repo::count_records(db.conn(), id, kind);
    Ok(DemoLogin {
        contacts: count(ObjectKind::Contact).await?,
        accounts: count(ObjectKind::Account).await?,
        email: email.to_string(),
        workspace,
        password,
        created,
    })
}

/// Readable to copy from a terminal, and 64 random bits.
fn new_password() -> String {
    let h = random_hex(8);
    format!("{}-{}-{}-{}", &h[..4], &h[4..8], &h[8..12], &h[12..])
}

/// The workspace with its members, custom fields, records and first edits.
async fn populate(
    db: &Db,
    now: i64,
    scale: DemoScale,
    password: &str,
) -> Result<Workspace, AppError> {
    let ws = create_workspace(db, DEMO_SLUG, "Demo Company", now).await?;
    let mut actors = Vec::new();
    for (email, name, role) in MEMBERS {
        let m = upsert_user(db, &ws, email, name, password, role, now).await?;
        let (workspace_id, user_id, label) = (ws.id, Some(m.user_id), m.email);
        actors.push(Actor {
            workspace_id,
            user_id,
            token_id: None,
            role,
            label,
        });
    }
    for &(object, key, label, field_type, options) in CUSTOM_FIELDS {
        let new = NewField {
            object,
            key: key.to_string(),
            label: label.to_string(),
            field_type,
            required: false,
            default: None,
            options: options
                .iter()
                .map(|(v, l)| PicklistOption::new(v, l))
                .collect(),
        };
        create_field(db, &actors[0], new, now).await?;
    }
    let (contacts, accounts) = load_records(db, &actors[0], now, scale).await?;
    edit_records(db, &actors[1], &actors[2], &contacts, &accounts, now).await?;
    send_events(db, ws.id, now).await?;
    add_segments(db, &actors[2], now).await?;
    campaign::add_campaigns(db, &actors[0], &actors[2], now).await?;
    Ok(ws)
}

/// Saved audiences a marketing team would have: each one shows a different
/// part of the filter language, and they build on one another.
const DEMO_SEGMENTS: &[(&str, &str)] = &[
    ("DACH", "people where country in [\"DE\", \"AT\", \"CH\"]"),
    (
        "Engaged in the last 30 days",
        "people where any of:\n  did \"Webinar Attended\" in last 30 days\n  did \"Email Clicked\" at least 2 times in last 30 days\n  did \"Demo Requested\" in last 30 days",
    ),
    (
        "DACH leads, engaged",
        "people where all of:\n  in segment \"DACH\"\n  lifecycle_stage in [\"lead\", \"mql\"]\n  in segment \"Engaged in the last 30 days\"",
    ),
    (
        "Going quiet",
        "people where all of:\n  lifecycle_stage in [\"mql\", \"sal\", \"sql\", \"opportunity\"]\n  last \"Email Clicked\" more than 30 days ago",
    ),
    (
        "Enterprise accounts with a customer",
        "accounts where all of:\n  plan is \"enterprise\"\n  any member where lifecycle_stage is \"customer\"",
    ),
    (
        "People at accounts renewing soon",
        "people where account where renewal_date within next 90 days",
    ),
];

async fn add_segments(db: &Db, marketer: &Actor, now: i64) -> Result<(), AppError> {
    use crate::audience::{Definition, NewSegment, SegmentKind, create_segment};
    for (name, text) in DEMO_SEGMENTS {
        let new = NewSegment {
            name: (*name).to_string(),
            description: String::new(),
            kind: SegmentKind::Dynamic,
            subject: None,
            definition: Some(Definition::Text((*text).to_string())),
        };
        create_segment(db, marketer, new, now).await?;
    }
    let list = NewSegment {
        name: "Employees".into(),
        description: "Our own people, kept out of campaigns.".into(),
        kind: SegmentKind::Static,
        subject: None,
        definition: None,
    };
    create_segment(db, marketer, list, now).await?;
    Ok(())
}

const DEMO_PAGES: &[&str] = &[
    "Home",
    "Pricing",
    "Features",
    "Customers",
    "Blog",
    "Docs",
    "Integrations",
];
const DEMO_EVENTS: &[(&str, &str)] = &[
    ("Webinar Attended", "webinar"),
    ("Demo Requested", "product"),
    ("Email Clicked", "campaign"),
    ("Trial Started", "plan"),
    ("Whitepaper Downloaded", "asset"),
    ("Feature Used", "feature"),
];

/// A website's worth of activity through the real tracking path: page views
/// and product events of known people over the last 90 days, and visitors
/// who browse anonymously and then sign in — whose profiles merge.
async fn send_events(db: &Db, ws: i64, now: i64) -> Result<(), AppError> {
    use crate::ingest;
    use pitcrew_core::event::{BatchDefaults, parse_message};
    let created = ingest::create_source(db, &Actor::system(ws), "Website", now).await?;
    let sender = ingest::sender(db, &created.write_key)
        .await?
        .ok_or_else(|| {
            AppError::new(
                ErrorKind::Internal,
                "demo_source",
                "the demo source has no live key",
            )
        })?;
    let everyone = repo::ListQuery {
        search: None,
        sort: "id".into(),
        descending: false,
        limit: i64::MAX,
        offset: 0,
        account_id: None,
        condition: None,
    };
    let (people, _) = repo::list_records(db.conn(), ws, ObjectKind::Contact, &everyone).await?;
    let users: Vec<String> = people.into_iter().filter_map(|r| r.external_id).collect();
    if users.is_empty() {
        return Ok(());
    }
    let mut rng = Rng(SEED ^ 0x00E7_E475);
    let day = 86_400_000;
    let mut messages = Vec::new();
    let event = |rng: &mut Rng, ids: Value, at: i64| {
        let mut m = if rng.chance(55) {
            let page = rng.pick(DEMO_PAGES);
            let path = format!("/{}", page.to_lowercase());
            json!({"type": "page", "name": page, "properties": {"path": path, "url": format!("https://www.demo-company.example{path}"), "title": page}})
        } else {
            let (name, prop) = rng.pick(DEMO_EVENTS);
            json!({"type": "track", "event": name, "properties": {prop: format!("{prop}-{}", rng.below(12) + 1)}})
        };
        if let (Some(m), Some(ids)) = (m.as_object_mut(), ids.as_object()) {
            m.extend(ids.clone());
            m.insert("messageId".into(), json!(format!("demo-{}", rng.next())));
            m.insert("timestamp".into(), json!(format_ms(at)));
        }
        m
    };
    for user in users.iter().take(users.len() / 2) {
        let mut at = now - rng.range(1, 90) * day;
        for _ in 0..=rng.below(8) {
            at += rng.range(60_000, day);
            messages.push(event(&mut rng, json!({"userId": user}), at.min(now)));
        }
    }
    for v in 0..users.len().min(40) {
        let anon = format!("visitor-{v:04}");
        let mut at = now - rng.range(1, 30) * day;
        for _ in 0..=rng.below(3) {
            at += rng.range(60_000, 3_600_000);
            messages.push(event(&mut rng, json!({"anonymousId": anon}), at));
        }
        let user = &users[(v * 7) % users.len()];
        let signed_in = json!({"type": "identify", "userId": user, "anonymousId": anon, "messageId": format!("demo-signin-{v}"), "timestamp": format_ms(at + 60_000)});
        messages.push(signed_in);
    }
    for chunk in messages.chunks(500) {
        let parsed = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| (i, parse_message(m, None, &BatchDefaults::default(), now)))
            .collect();
        let report = ingest::ingest(db, &sender, parsed, now).await?;
        if let Some(p) = report.rejected.first() {
            let message = format!("the demo generator made an invalid event: {}", p.message);
            return Err(AppError::new(
                ErrorKind::Internal,
                "demo_data_invalid",
                message,
            ));
        }
    }
    Ok(())
}

/// Validate drafts exactly as the API would and insert them; `account_ids`
/// are the stored ids of the accounts the drafts point at.
async fn insert_all(
    tx: &mut Tx,
    ws: i64,
    object: ObjectKind,
    drafts: &[Draft],
    account_ids: &[i64],
    now: i64,
) -> Result<Vec<i64>, AppError> {
    let registry = repo::list_fields(tx.conn(), ws, Some(object)).await?;
    let mut ids = Vec::with_capacity(drafts.len());
    for d in drafts {
        let values =
            validate_record(&registry, &d.fields, None, Mode::Create).map_err(|issues| {
                // The generator made something the API would refuse: a bug here, not bad input.
                let why = AppError::fields(issues).message;
                let message = format!(
                    "the demo generator made an invalid {}: {why}",
                    object.as_str()
                );
                AppError::new(ErrorKind::Internal, "demo_data_invalid", message)
            })?;
        let identity = Identity {
            external_id: d.external_id.clone(),
            account_id: d.account.map(|i| account_ids[i]),
        };
        let stored = repo::insert_record(tx.conn(), ws, object, &identity, &values, now).await?;
        ids.push(stored.id);
    }
    Ok(ids)
}

/// Generate and insert every account and contact in one transaction: one
/// transaction per record would take minutes at the default scale. Returns
/// (contact id, stage) and (account id, plan) for the edits that follow.
async fn load_records(
    db: &Db,
    owner: &Actor,
    now: i64,
    scale: DemoScale,
) -> Result<(Vec<(i64, &'static str)>, Vec<(i64, &'static str)>), AppError> {
    let mut rng = Rng(SEED);
    let mut taken = HashSet::new();
    let (companies, accounts): (Vec<Company>, Vec<Draft>) = (0..scale.accounts)
        .map(|n| account(&mut rng, n, now, &mut taken))
        .unzip();
    let mut emails = HashSet::new();
    let (contacts, stages): (Vec<Draft>, Vec<&str>) = (0..scale.contacts)
        .map(|n| contact(&mut rng, n, now, &companies, &mut emails))
        .unzip();

    let ws = owner.workspace_id;
    let mut tx = db.begin().await?;
    let account_ids = insert_all(&mut tx, ws, ObjectKind::Account, &accounts, &[], now).await?;
    let contact_ids = insert_all(
        &mut tx,
        ws,
        ObjectKind::Contact,
        &contacts,
        &account_ids,
        now,
    )
    .await?;
    let after = json!({"demo_contacts": contacts.len(), "demo_accounts": accounts.len()});
    let change = Change {
        action: "create",
        object_type: ObjectType::Workspace,
        object_id: ws.to_string(),
        changes: json!({ "after": after }),
    };
    audit::record(tx.conn(), ws, &owner.audit(), change, now).await?;
    tx.commit().await?;
    let plans = companies.iter().map(|c| c.plan);
    Ok((
        contact_ids.into_iter().zip(stages).collect(),
        account_ids.into_iter().zip(plans).collect(),
    ))
}

/// A handful of everyday changes through the real use cases, so the audit
/// log opens with before/after entries by different people.
async fn edit_records(
    db: &Db,
    admin: &Actor,
    marketer: &Actor,
    contacts: &[(i64, &str)],
    accounts: &[(i64, &str)],
    now: i64,
) -> Result<(), AppError> {
    // Who, the stage of the contact changed (the next one not yet changed), and the change.
    #[rustfmt::skip]
    let changes = [
        (marketer, "lead", json!({"lifecycle_stage": "mql", "lead_score": 62})),
        (marketer, "lead", json!({"lifecycle_stage": "mql", "lead_score": 68})),
        (marketer, "lead", json!({"lifecycle_stage": "mql", "lead_score": 75})),
        (marketer, "lead", json!({"lifecycle_stage": "mql", "lead_score": 81})),
        (marketer, "subscriber", json!({"webinar_attendee": true, "interests": ["events"]})),
        (admin, "sql", json!({"lifecycle_stage": "opportunity", "last_demo_date": day(now, -2)})),
        (admin, "customer", json!({"job_title": "Head of Marketing Operations"})),
        (admin, "opportunity", json!({"lead_score": 88})),
        (marketer, "sal", json!({"job_title": "Senior Product Marketing Manager"})),
    ];
    let mut changed = HashSet::new();
    for (actor, stage, fields) in changes {
        let next = contacts
            .iter()
            .find(|c| c.1 == stage && !changed.contains(&c.0));
        if let Some(&(id, _)) = next {
            changed.insert(id);
            let patch = RecordPatch {
                fields: object(fields),
                ..RecordPatch::default()
            };
            update_record(db, actor, ObjectKind::Contact, id, patch, now).await?;
        }
    }
    if let Some(&(id, _)) = accounts.iter().find(|a| a.1 == "team") {
        let fields = object(json!({"plan": "business", "arr": 18_000}));
        let patch = RecordPatch {
            fields,
            ..RecordPatch::default()
        };
        update_record(db, admin, ObjectKind::Account, id, patch, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::login;
    use crate::audit::{AuditParams, list};
    use crate::record::{ListParams, list_records};
    use pitcrew_core::record::value::normalize_email;
    use pitcrew_store::record::StoredRecord;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01
    const SMALL: DemoScale = DemoScale {
        accounts: 20,
        contacts: 200,
    };

    async fn sign_in(db: &Db, email: &str, password: &str) -> Result<Actor, AppError> {
        Ok(login(db, email, password, Some("demo"), NOW).await?.actor)
    }

    async fn contacts(db: &Db, owner: &Actor, limit: i64) -> Vec<StoredRecord> {
        let params = ListParams {
            sort: Some("id".into()),
            limit: Some(limit),
            ..Default::default()
        };
        list_records(db, owner, ObjectKind::Contact, params)
            .await
            .expect("list")
            .0
    }

    fn text<'a>(r: &'a StoredRecord, key: &str) -> Option<&'a str> {
        r.fields.get(key).and_then(Value::as_str)
    }

    #[tokio::test]
    async fn the_demo_looks_like_a_real_crm() {
        let t = pitcrew_testkit::sqlite().await;
        let demo = build_demo(&t.db, NOW, SMALL).await.expect("build demo");
        assert!(demo.created);
        assert_eq!((demo.contacts, demo.accounts), (200, 20));
        assert!(demo.password.len() >= 16);

        let owner = sign_in(&t.db, &demo.email, &demo.password)
            .await
            .expect("the printed login works");
        assert_eq!(owner.role, Role::Owner);
        sign_in(&t.db, "viewer@demo.pitcrew.dev", &demo.password)
            .await
            .expect("members share it");

        let contacts = contacts(&t.db, &owner, 500).await;
        assert_eq!(contacts.len(), 200);
        let (mut emails, mut countries, mut stages) =
            (HashSet::new(), HashSet::new(), HashSet::new());
        for c in &contacts {
            let email = text(c, "email").expect("every contact has an email");
            assert_eq!(normalize_email(email).as_deref(), Ok(email));
            assert!(emails.insert(email), "{email} appears twice");
            if let Some(phone) = text(c, "phone") {
                let digits = phone.strip_prefix('+').expect("E.164 starts with +");
                assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{phone}");
            }
            countries.insert(text(c, "country").expect("country"));
            stages.insert(text(c, "lifecycle_stage").expect("stage"));
        }
        assert!(countries.len() >= 5, "{countries:?}");
        for (stage, _) in &STAGES[..7] {
            assert!(stages.contains(stage), "no contact is a {stage}");
        }
        let linked = contacts.iter().filter(|c| c.account_id.is_some()).count();
        assert!((150..=190).contains(&linked), "{linked} linked");
    }

    #[tokio::test]
    async fn building_again_reuses_the_workspace_with_a_new_password() {
        let t = pitcrew_testkit::sqlite().await;
        let first = build_demo(&t.db, NOW, SMALL).await.expect("build");
        let again = build_demo(&t.db, NOW + 1000, SMALL).await.expect("reuse");
        assert!(!again.created);
        assert_eq!(again.workspace.id, first.workspace.id);
        assert_eq!(
            (again.contacts, again.accounts),
            (first.contacts, first.accounts)
        );
        assert_ne!(again.password, first.password);
        let old = sign_in(&t.db, &first.email, &first.password).await;
        assert!(old.is_err(), "the old password still works");
        sign_in(&t.db, &again.email, &again.password)
            .await
            .expect("the new password works");
    }

    #[tokio::test]
    async fn the_demo_has_website_activity_and_merged_visitors() {
        let t = pitcrew_testkit::sqlite().await;
        let demo = build_demo(&t.db, NOW, SMALL).await.expect("build");
        let owner = sign_in(&t.db, &demo.email, &demo.password)
            .await
            .expect("login");
        let types = crate::ingest::event_types(&t.db, &owner)
            .await
            .expect("catalogue");
        let total: i64 = types.iter().map(|e| e.count).sum();
        assert!(total > 100, "{total} events");
        assert!(
            types.iter().any(|e| e.name == "Pricing")
                && types.iter().any(|e| e.name == "Webinar Attended")
        );
        let merges =
            t.db.fetch_one("SELECT COUNT(*) AS n FROM merges", vec![])
                .await
                .expect("merges")
                .int("n")
                .expect("n");
        assert!(merges >= 10, "signed-in visitors merged: {merges}");
        assert_eq!(
            demo.contacts, 200,
            "merged visitors leave no extra profiles"
        );
    }

    #[tokio::test]
    async fn the_audit_log_shows_changes_by_several_people() {
        let t = pitcrew_testkit::sqlite().await;
        let demo = build_demo(&t.db, NOW, SMALL).await.expect("build");
        let owner = sign_in(&t.db, &demo.email, &demo.password)
            .await
            .expect("login");
        let params = AuditParams {
            limit: Some(500),
            ..AuditParams::default()
        };
        let entries = list(&t.db, &owner, params).await.expect("audit");
        let people: HashSet<&str> = entries
            .iter()
            .filter(|e| e.action == "update" && e.actor_user_id.is_some())
            .map(|e| e.actor.as_str())
            .collect();
        assert!(people.len() >= 2, "{people:?}");
        let edits = entries
            .iter()
            .filter(|e| e.action == "update" && e.object_type == "contact");
        assert!(edits.clone().count() >= 8);
        assert!(
            edits
                .clone()
                .all(|e| e.changes["before"].is_object() && e.changes["after"].is_object())
        );
        // The owner changed the workspace twice: the bulk load, then the sending rules.
        let bulk = entries.iter().find(|e| {
            e.object_type == "workspace"
                && e.actor == demo.email
                && e.changes["after"].get("demo_contacts").is_some()
        });
        assert_eq!(
            bulk.expect("bulk load entry").changes["after"]["demo_contacts"],
            json!(200)
        );
    }

    #[tokio::test]
    async fn the_same_seed_gives_the_same_data() {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let t = pitcrew_testkit::sqlite().await;
            let demo = build_demo(&t.db, NOW, SMALL).await.expect("build");
            let owner = sign_in(&t.db, &demo.email, &demo.password)
                .await
                .expect("login");
            let mut first50 = contacts(&t.db, &owner, 50).await;
            for r in &mut first50 {
                r.fields.remove("created_at");
                r.fields.remove("updated_at");
            }
            seen.push(first50);
        }
        assert_eq!(seen[0].len(), 50);
        assert_eq!(seen[0], seen[1]);
    }
}
