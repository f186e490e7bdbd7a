//! ISO 3166-1 country list used to normalise country values to alpha-2 codes.
//!
//! The table also carries each country's telephone calling code and trunk
//! prefix, which phone normalisation relies on.

/// One ISO 3166-1 country with the telephone facts needed to write its numbers in E.164.
#[derive(Debug, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code, e.g. `"DE"`.
    pub alpha2: &'static str,
    /// ISO 3166-1 alpha-3 code, e.g. `"DEU"`.
    pub alpha3: &'static str,
    /// English short name, e.g. `"Germany"`.
    pub name: &'static str,
    /// ITU-T E.164 country calling code without the `+`, e.g. `"49"`; `"1"` for NANP members.
    pub calling_code: &'static str,
    /// National trunk prefix dropped in international format: `Some("0")` for DE, FR, GB and
    /// most others, `Some("1")` for NANP members, `None` where there is none.
    pub trunk_prefix: Option<&'static str>,
    /// True where the leading 0 of a national number is kept in international format (IT, SM, VA).
    pub keeps_trunk_zero: bool,
}

const fn country(
    alpha2: &'static str,
    alpha3: &'static str,
    name: &'static str,
    calling_code: &'static str,
    trunk_prefix: Option<&'static str>,
    keeps_trunk_zero: bool,
) -> Country {
    Country {
        alpha2,
        alpha3,
        name,
        calling_code,
        trunk_prefix,
        keeps_trunk_zero,
    }
}

/// Every officially assigned ISO 3166-1 code, ordered by alpha-2 code.
///
/// The data follows ISO 3166-1 and the ITU-T E.164 country code assignments. Territories
/// without a code of their own carry the code they are reached through (Antarctica and
/// Heard Island 672, Bouvet Island 47, Pitcairn 64, South Georgia 500, French Southern
/// Territories 262, US Minor Outlying Islands 1).
#[rustfmt::skip]
pub static COUNTRIES: &[Country] = &[
    country("AD", "AND", "Andorra", "376", None, false),
    country("AE", "ARE", "United Arab Emirates", "971", Some("0"), false),
    country("AF", "AFG", "Afghanistan", "93", Some("0"), false),
    country("AG", "ATG", "Antigua and Barbuda", "1", Some("1"), false),
    country("AI", "AIA", "Anguilla", "1", Some("1"), false),
    country("AL", "ALB", "Albania", "355", Some("0"), false),
    country("AM", "ARM", "Armenia", "374", Some("0"), false),
    country("AO", "AGO", "Angola", "244", None, false),
    country("AQ", "ATA", "Antarctica", "672", None, false),
    country("AR", "ARG", "Argentina", "54", Some("0"), false),
    country("AS", "ASM", "American Samoa", "1", Some("1"), false),
    country("AT", "AUT", "Austria", "43", Some("0"), false),
    country("AU", "AUS", "Australia", "61", Some("0"), false),
    country("AW", "ABW", "Aruba", "297", None, false),
    country("AX", "ALA", "Åland Islands", "358", Some("0"), false),
    country("AZ", "AZE", "Azerbaijan", "994", Some("0"), false),
    country("BA", "BIH", "Bosnia and Herzegovina", "387", Some("0"), false),
    country("BB", "BRB", "Barbados", "1", Some("1"), false),
    country("BD", "BGD", "Bangladesh", "880", Some("0"), false),
    country("BE", "BEL", "Belgium", "32", Some("0"), false),
    country("BF", "BFA", "Burkina Faso", "226", None, false),
    country("BG", "BGR", "Bulgaria", "359", Some("0"), false),
    country("BH", "BHR", "Bahrain", "973", None, false),
    country("BI", "BDI", "Burundi", "257", None, false),
    country("BJ", "BEN", "Benin", "229", None, false),
    country("BL", "BLM", "Saint Barthélemy", "590", Some("0"), false),
    country("BM", "BMU", "Bermuda", "1", Some("1"), false),
    country("BN", "BRN", "Brunei Darussalam", "673", None, false),
    country("BO", "BOL", "Bolivia, Plurinational State of", "591", Some("0"), false),
    country("BQ", "BES", "Bonaire, Sint Eustatius and Saba", "599", None, false),
    country("BR", "BRA", "Brazil", "55", Some("0"), false),
    country("BS", "BHS", "Bahamas", "1", Some("1"), false),
    country("BT", "BTN", "Bhutan", "975", None, false),
    country("BV", "BVT", "Bouvet Island", "47", None, false),
    country("BW", "BWA", "Botswana", "267", None, false),
    country("BY", "BLR", "Belarus", "375", Some("80"), false),
    country("BZ", "BLZ", "Belize", "501", None, false),
    country("CA", "CAN", "Canada", "1", Some("1"), false),
    country("CC", "CCK", "Cocos (Keeling) Islands", "61", Some("0"), false),
    country("CD", "COD", "Congo, The Democratic Republic of the", "243", Some("0"), false),
    country("CF", "CAF", "Central African Republic", "236", None, false),
    country("CG", "COG", "Congo", "242", None, false),
    country("CH", "CHE", "Switzerland", "41", Some("0"), false),
    country("CI", "CIV", "Côte d'Ivoire", "225", None, false),
    country("CK", "COK", "Cook Islands", "682", None, false),
    country("CL", "CHL", "Chile", "56", None, false),
    country("CM", "CMR", "Cameroon", "237", None, false),
    country("CN", "CHN", "China", "86", Some("0"), false),
    country("CO", "COL", "Colombia", "57", Some("0"), false),
    country("CR", "CRI", "Costa Rica", "506", None, false),
    country("CU", "CUB", "Cuba", "53", Some("0"), false),
    country("CV", "CPV", "Cabo Verde", "238", None, false),
    country("CW", "CUW", "Curaçao", "599", None, false),
    country("CX", "CXR", "Christmas Island", "61", Some("0"), false),
    country("CY", "CYP", "Cyprus", "357", None, false),
    country("CZ", "CZE", "Czechia", "420", None, false),
    country("DE", "DEU", "Germany", "49", Some("0"), false),
    country("DJ", "DJI", "Djibouti", "253", None, false),
    country("DK", "DNK", "Denmark", "45", None, false),
    country("DM", "DMA", "Dominica", "1", Some("1"), false),
    country("DO", "DOM", "Dominican Republic", "1", Some("1"), false),
    country("DZ", "DZA", "Algeria", "213", Some("0"), false),
    country("EC", "ECU", "Ecuador", "593", Some("0"), false),
    country("EE", "EST", "Estonia", "372", None, false),
    country("EG", "EGY", "Egypt", "20", Some("0"), false),
    country("EH", "ESH", "Western Sahara", "212", Some("0"), false),
    country("ER", "ERI", "Eritrea", "291", Some("0"), false),
    country("ES", "ESP", "Spain", "34", None, false),
    country("ET", "ETH", "Ethiopia", "251", Some("0"), false),
    country("FI", "FIN", "Finland", "358", Some("0"), false),
    country("FJ", "FJI", "Fiji", "679", None, false),
    country("FK", "FLK", "Falkland Islands (Malvinas)", "500", None, false),
    country("FM", "FSM", "Micronesia, Federated States of", "691", None, false),
    country("FO", "FRO", "Faroe Islands", "298", None, false),
    country("FR", "FRA", "France", "33", Some("0"), false),
    country("GA", "GAB", "Gabon", "241", None, false),
    country("GB", "GBR", "United Kingdom", "44", Some("0"), false),
    country("GD", "GRD", "Grenada", "1", Some("1"), false),
    country("GE", "GEO", "Georgia", "995", Some("0"), false),
    country("GF", "GUF", "French Guiana", "594", Some("0"), false),
    country("GG", "GGY", "Guernsey", "44", Some("0"), false),
    country("GH", "GHA", "Ghana", "233", Some("0"), false),
    country("GI", "GIB", "Gibraltar", "350", None, false),
    country("GL", "GRL", "Greenland", "299", None, false),
    country("GM", "GMB", "Gambia", "220", None, false),
    country("GN", "GIN", "Guinea", "224", None, false),
    country("GP", "GLP", "Guadeloupe", "590", Some("0"), false),
    country("GQ", "GNQ", "Equatorial Guinea", "240", None, false),
    country("GR", "GRC", "Greece", "30", None, false),
    country("GS", "SGS", "South Georgia and the South Sandwich Islands", "500", None, false),
    country("GT", "GTM", "Guatemala", "502", None, false),
    country("GU", "GUM", "Guam", "1", Some("1"), false),
    country("GW", "GNB", "Guinea-Bissau", "245", None, false),
    country("GY", "GUY", "Guyana", "592", None, false),
    country("HK", "HKG", "Hong Kong", "852", None, false),
    country("HM", "HMD", "Heard Island and McDonald Islands", "672", None, false),
    country("HN", "HND", "Honduras", "504", None, false),
    country("HR", "HRV", "Croatia", "385", Some("0"), false),
    country("HT", "HTI", "Haiti", "509", None, false),
    country("HU", "HUN", "Hungary", "36", Some("06"), false),
    country("ID", "IDN", "Indonesia", "62", Some("0"), false),
    country("IE", "IRL", "Ireland", "353", Some("0"), false),
    country("IL", "ISR", "Israel", "972", Some("0"), false),
    country("IM", "IMN", "Isle of Man", "44", Some("0"), false),
    country("IN", "IND", "India", "91", Some("0"), false),
    country("IO", "IOT", "British Indian Ocean Territory", "246", None, false),
    country("IQ", "IRQ", "Iraq", "964", Some("0"), false),
    country("IR", "IRN", "Iran, Islamic Republic of", "98", Some("0"), false),
    country("IS", "ISL", "Iceland", "354", None, false),
    country("IT", "ITA", "Italy", "39", None, true),
    country("JE", "JEY", "Jersey", "44", Some("0"), false),
    country("JM", "JAM", "Jamaica", "1", Some("1"), false),
    country("JO", "JOR", "Jordan", "962", Some("0"), false),
    country("JP", "JPN", "Japan", "81", Some("0"), false),
    country("KE", "KEN", "Kenya", "254", Some("0"), false),
    country("KG", "KGZ", "Kyrgyzstan", "996", Some("0"), false),
    country("KH", "KHM", "Cambodia", "855", Some("0"), false),
    country("KI", "KIR", "Kiribati", "686", Some("0"), false),
    country("KM", "COM", "Comoros", "269", None, false),
    country("KN", "KNA", "Saint Kitts and Nevis", "1", Some("1"), false),
    country("KP", "PRK", "Korea, Democratic People's Republic of", "850", Some("0"), false),
    country("KR", "KOR", "Korea, Republic of", "82", Some("0"), false),
    country("KW", "KWT", "Kuwait", "965", None, false),
    country("KY", "CYM", "Cayman Islands", "1", Some("1"), false),
    country("KZ", "KAZ", "Kazakhstan", "7", Some("8"), false),
    country("LA", "LAO", "Lao People's Democratic Republic", "856", Some("0"), false),
    country("LB", "LBN", "Lebanon", "961", Some("0"), false),
    country("LC", "LCA", "Saint Lucia", "1", Some("1"), false),
    country("LI", "LIE", "Liechtenstein", "423", Some("0"), false),
    country("LK", "LKA", "Sri Lanka", "94", Some("0"), false),
    country("LR", "LBR", "Liberia", "231", Some("0"), false),
    country("LS", "LSO", "Lesotho", "266", None, false),
    country("LT", "LTU", "Lithuania", "370", Some("0"), false),
    country("LU", "LUX", "Luxembourg", "352", None, false),
    country("LV", "LVA", "Latvia", "371", None, false),
    country("LY", "LBY", "Libya", "218", Some("0"), false),
    country("MA", "MAR", "Morocco", "212", Some("0"), false),
    country("MC", "MCO", "Monaco", "377", Some("0"), false),
    country("MD", "MDA", "Moldova, Republic of", "373", Some("0"), false),
    country("ME", "MNE", "Montenegro", "382", Some("0"), false),
    country("MF", "MAF", "Saint Martin (French part)", "590", Some("0"), false),
    country("MG", "MDG", "Madagascar", "261", Some("0"), false),
    country("MH", "MHL", "Marshall Islands", "692", Some("1"), false),
    country("MK", "MKD", "North Macedonia", "389", Some("0"), false),
    country("ML", "MLI", "Mali", "223", None, false),
    country("MM", "MMR", "Myanmar", "95", Some("0"), false),
    country("MN", "MNG", "Mongolia", "976", Some("0"), false),
    country("MO", "MAC", "Macao", "853", None, false),
    country("MP", "MNP", "Northern Mariana Islands", "1", Some("1"), false),
    country("MQ", "MTQ", "Martinique", "596", Some("0"), false),
    country("MR", "MRT", "Mauritania", "222", None, false),
    country("MS", "MSR", "Montserrat", "1", Some("1"), false),
    country("MT", "MLT", "Malta", "356", None, false),
    country("MU", "MUS", "Mauritius", "230", None, false),
    country("MV", "MDV", "Maldives", "960", None, false),
    country("MW", "MWI", "Malawi", "265", Some("0"), false),
    country("MX", "MEX", "Mexico", "52", None, false),
    country("MY", "MYS", "Malaysia", "60", Some("0"), false),
    country("MZ", "MOZ", "Mozambique", "258", None, false),
    country("NA", "NAM", "Namibia", "264", Some("0"), false),
    country("NC", "NCL", "New Caledonia", "687", None, false),
    country("NE", "NER", "Niger", "227", None, false),
    country("NF", "NFK", "Norfolk Island", "672", None, false),
    country("NG", "NGA", "Nigeria", "234", Some("0"), false),
    country("NI", "NIC", "Nicaragua", "505", None, false),
    country("NL", "NLD", "Netherlands", "31", Some("0"), false),
    country("NO", "NOR", "Norway", "47", None, false),
    country("NP", "NPL", "Nepal", "977", Some("0"), false),
    country("NR", "NRU", "Nauru", "674", None, false),
    country("NU", "NIU", "Niue", "683", None, false),
    country("NZ", "NZL", "New Zealand", "64", Some("0"), false),
    country("OM", "OMN", "Oman", "968", None, false),
    country("PA", "PAN", "Panama", "507", None, false),
    country("PE", "PER", "Peru", "51", Some("0"), false),
    country("PF", "PYF", "French Polynesia", "689", None, false),
    country("PG", "PNG", "Papua New Guinea", "675", None, false),
    country("PH", "PHL", "Philippines", "63", Some("0"), false),
    country("PK", "PAK", "Pakistan", "92", Some("0"), false),
    country("PL", "POL", "Poland", "48", None, false),
    country("PM", "SPM", "Saint Pierre and Miquelon", "508", Some("0"), false),
    country("PN", "PCN", "Pitcairn", "64", None, false),
    country("PR", "PRI", "Puerto Rico", "1", Some("1"), false),
    country("PS", "PSE", "Palestine, State of", "970", Some("0"), false),
    country("PT", "PRT", "Portugal", "351", None, false),
    country("PW", "PLW", "Palau", "680", None, false),
    country("PY", "PRY", "Paraguay", "595", Some("0"), false),
    country("QA", "QAT", "Qatar", "974", None, false),
    country("RE", "REU", "Réunion", "262", Some("0"), false),
    country("RO", "ROU", "Romania", "40", Some("0"), false),
    country("RS", "SRB", "Serbia", "381", Some("0"), false),
    country("RU", "RUS", "Russian Federation", "7", Some("8"), false),
    country("RW", "RWA", "Rwanda", "250", Some("0"), false),
    country("SA", "SAU", "Saudi Arabia", "966", Some("0"), false),
    country("SB", "SLB", "Solomon Islands", "677", None, false),
    country("SC", "SYC", "Seychelles", "248", None, false),
    country("SD", "SDN", "Sudan", "249", Some("0"), false),
    country("SE", "SWE", "Sweden", "46", Some("0"), false),
    country("SG", "SGP", "Singapore", "65", None, false),
    country("SH", "SHN", "Saint Helena, Ascension and Tristan da Cunha", "290", None, false),
    country("SI", "SVN", "Slovenia", "386", Some("0"), false),
    country("SJ", "SJM", "Svalbard and Jan Mayen", "47", None, false),
    country("SK", "SVK", "Slovakia", "421", Some("0"), false),
    country("SL", "SLE", "Sierra Leone", "232", Some("0"), false),
    country("SM", "SMR", "San Marino", "378", None, true),
    country("SN", "SEN", "Senegal", "221", None, false),
    country("SO", "SOM", "Somalia", "252", Some("0"), false),
    country("SR", "SUR", "Suriname", "597", None, false),
    country("SS", "SSD", "South Sudan", "211", Some("0"), false),
    country("ST", "STP", "Sao Tome and Principe", "239", None, false),
    country("SV", "SLV", "El Salvador", "503", None, false),
    country("SX", "SXM", "Sint Maarten (Dutch part)", "1", Some("1"), false),
    country("SY", "SYR", "Syrian Arab Republic", "963", Some("0"), false),
    country("SZ", "SWZ", "Eswatini", "268", None, false),
    country("TC", "TCA", "Turks and Caicos Islands", "1", Some("1"), false),
    country("TD", "TCD", "Chad", "235", None, false),
    country("TF", "ATF", "French Southern Territories", "262", Some("0"), false),
    country("TG", "TGO", "Togo", "228", None, false),
    country("TH", "THA", "Thailand", "66", Some("0"), false),
    country("TJ", "TJK", "Tajikistan", "992", None, false),
    country("TK", "TKL", "Tokelau", "690", None, false),
    country("TL", "TLS", "Timor-Leste", "670", None, false),
    country("TM", "TKM", "Turkmenistan", "993", Some("8"), false),
    country("TN", "TUN", "Tunisia", "216", None, false),
    country("TO", "TON", "Tonga", "676", None, false),
    country("TR", "TUR", "Türkiye", "90", Some("0"), false),
    country("TT", "TTO", "Trinidad and Tobago", "1", Some("1"), false),
    country("TV", "TUV", "Tuvalu", "688", None, false),
    country("TW", "TWN", "Taiwan, Province of China", "886", Some("0"), false),
    country("TZ", "TZA", "Tanzania, United Republic of", "255", Some("0"), false),
    country("UA", "UKR", "Ukraine", "380", Some("0"), false),
    country("UG", "UGA", "Uganda", "256", Some("0"), false),
    country("UM", "UMI", "United States Minor Outlying Islands", "1", Some("1"), false),
    country("US", "USA", "United States", "1", Some("1"), false),
    country("UY", "URY", "Uruguay", "598", Some("0"), false),
    country("UZ", "UZB", "Uzbekistan", "998", None, false),
    country("VA", "VAT", "Holy See (Vatican City State)", "39", None, true),
    country("VC", "VCT", "Saint Vincent and the Grenadines", "1", Some("1"), false),
    country("VE", "VEN", "Venezuela, Bolivarian Republic of", "58", Some("0"), false),
    country("VG", "VGB", "Virgin Islands, British", "1", Some("1"), false),
    country("VI", "VIR", "Virgin Islands, U.S.", "1", Some("1"), false),
    country("VN", "VNM", "Viet Nam", "84", Some("0"), false),
    country("VU", "VUT", "Vanuatu", "678", None, false),
    country("WF", "WLF", "Wallis and Futuna", "681", None, false),
    country("WS", "WSM", "Samoa", "685", None, false),
    country("YE", "YEM", "Yemen", "967", Some("0"), false),
    country("YT", "MYT", "Mayotte", "262", Some("0"), false),
    country("ZA", "ZAF", "South Africa", "27", Some("0"), false),
    country("ZM", "ZMB", "Zambia", "260", Some("0"), false),
    country("ZW", "ZWE", "Zimbabwe", "263", Some("0"), false),
];

/// Other names a country goes by, keyed by alpha-2 code: official long names, short forms of
/// ISO long names, endonyms and the aliases CRM exports tend to contain. Matching ignores case,
/// spacing, punctuation and Latin diacritics, so each spelling is listed once.
static ALIASES: &[(&str, &[&str])] = &[
    ("AD", &["Principality of Andorra"]),
    ("AE", &["UAE", "U.A.E.", "Emirates", "الإمارات"]),
    ("AF", &["Islamic Republic of Afghanistan"]),
    ("AG", &["Antigua"]),
    ("AL", &["Republic of Albania", "Shqipëria", "Shqipëri"]),
    ("AM", &["Republic of Armenia"]),
    ("AO", &["Republic of Angola"]),
    ("AR", &["Argentine Republic"]),
    ("AT", &["Republic of Austria", "Österreich", "Oesterreich"]),
    ("AX", &["Aland"]),
    ("AZ", &["Republic of Azerbaijan"]),
    (
        "BA",
        &[
            "Republic of Bosnia and Herzegovina",
            "Bosnia",
            "Bosnia-Herzegovina",
            "Bosna i Hercegovina",
        ],
    ),
    ("BD", &["People's Republic of Bangladesh"]),
    (
        "BE",
        &["Kingdom of Belgium", "België", "Belgique", "Belgien"],
    ),
    ("BG", &["Republic of Bulgaria", "България", "Bulgariya"]),
    ("BH", &["Kingdom of Bahrain"]),
    ("BI", &["Republic of Burundi"]),
    ("BJ", &["Republic of Benin"]),
    (
        "BL",
        &[
            "St Barthélemy",
            "St Barts",
            "St Barths",
            "Saint Barth",
            "Saint Barts",
        ],
    ),
    ("BN", &["Brunei"]),
    (
        "BO",
        &[
            "Plurinational State of Bolivia",
            "Bolivia",
            "Bolivia (Plurinational State of)",
        ],
    ),
    ("BQ", &["Bonaire", "Caribbean Netherlands"]),
    (
        "BR",
        &[
            "Federative Republic of Brazil",
            "Brasil",
            "República Federativa do Brasil",
        ],
    ),
    ("BS", &["Commonwealth of the Bahamas", "The Bahamas"]),
    ("BT", &["Kingdom of Bhutan"]),
    ("BW", &["Republic of Botswana"]),
    ("BY", &["Republic of Belarus"]),
    ("CC", &["Cocos Islands", "Keeling Islands"]),
    (
        "CD",
        &[
            "Democratic Republic of the Congo",
            "DR Congo",
            "DRC",
            "Congo-Kinshasa",
            "Congo (the Democratic Republic of the)",
            "Congo, Democratic Republic of the",
        ],
    ),
    (
        "CG",
        &[
            "Republic of the Congo",
            "Republic of Congo",
            "Congo-Brazzaville",
            "Congo, Republic of the",
        ],
    ),
    (
        "CH",
        &[
            "Swiss Confederation",
            "Schweiz",
            "Suisse",
            "Svizzera",
            "Svizra",
            "Helvetia",
            "Confoederatio Helvetica",
        ],
    ),
    ("CI", &["Republic of Côte d'Ivoire", "Ivory Coast"]),
    ("CL", &["Republic of Chile"]),
    ("CM", &["Republic of Cameroon"]),
    (
        "CN",
        &[
            "People's Republic of China",
            "PRC",
            "Mainland China",
            "Zhongguo",
            "中国",
            "中國",
        ],
    ),
    ("CO", &["Republic of Colombia"]),
    ("CR", &["Republic of Costa Rica"]),
    ("CU", &["Republic of Cuba"]),
    ("CV", &["Republic of Cabo Verde", "Cape Verde"]),
    ("CY", &["Republic of Cyprus", "Kypros", "Κύπρος"]),
    ("CZ", &["Czech Republic", "Česko", "Česká republika"]),
    (
        "DE",
        &[
            "Federal Republic of Germany",
            "Deutschland",
            "Bundesrepublik Deutschland",
        ],
    ),
    ("DJ", &["Republic of Djibouti"]),
    ("DK", &["Kingdom of Denmark", "Danmark"]),
    ("DM", &["Commonwealth of Dominica"]),
    ("DZ", &["People's Democratic Republic of Algeria"]),
    ("EC", &["Republic of Ecuador"]),
    ("EE", &["Republic of Estonia", "Eesti"]),
    ("EG", &["Arab Republic of Egypt", "Misr", "مصر"]),
    ("ER", &["the State of Eritrea"]),
    ("ES", &["Kingdom of Spain", "España", "Reino de España"]),
    ("ET", &["Federal Democratic Republic of Ethiopia"]),
    ("FI", &["Republic of Finland", "Suomi"]),
    ("FJ", &["Republic of Fiji"]),
    ("FK", &["Falklands", "Malvinas", "Falkland Islands"]),
    ("FM", &["Federated States of Micronesia", "Micronesia"]),
    ("FO", &["Faroes", "Faeroe Islands", "Føroyar"]),
    ("FR", &["French Republic", "République française"]),
    ("GA", &["Gabonese Republic"]),
    (
        "GB",
        &[
            "United Kingdom of Great Britain and Northern Ireland",
            "UK",
            "U.K.",
            "Great Britain",
            "Britain",
            "England",
            "Scotland",
            "Wales",
            "Northern Ireland",
            "Cymru",
        ],
    ),
    ("GE", &["Sakartvelo"]),
    ("GH", &["Republic of Ghana"]),
    ("GM", &["Republic of the Gambia", "The Gambia"]),
    ("GN", &["Republic of Guinea"]),
    ("GQ", &["Republic of Equatorial Guinea"]),
    (
        "GR",
        &[
            "Hellenic Republic",
            "Hellas",
            "Ellas",
            "Ellada",
            "Ελλάδα",
            "Ελλάς",
        ],
    ),
    ("GS", &["South Georgia"]),
    ("GT", &["Republic of Guatemala"]),
    ("GW", &["Republic of Guinea-Bissau"]),
    ("GY", &["Republic of Guyana"]),
    (
        "HK",
        &[
            "Hong Kong Special Administrative Region of China",
            "Hong Kong SAR",
            "Hong Kong, China",
            "香港",
        ],
    ),
    ("HM", &["Heard Island"]),
    ("HN", &["Republic of Honduras"]),
    ("HR", &["Republic of Croatia", "Hrvatska"]),
    ("HT", &["Republic of Haiti"]),
    ("HU", &["Magyarország"]),
    ("ID", &["Republic of Indonesia"]),
    ("IE", &["Éire", "Republic of Ireland"]),
    ("IL", &["State of Israel", "Yisrael", "Yisra'el", "ישראל"]),
    ("IN", &["Republic of India", "Bharat", "Bhārat", "भारत"]),
    ("IQ", &["Republic of Iraq"]),
    (
        "IR",
        &[
            "Islamic Republic of Iran",
            "Iran",
            "Iran (Islamic Republic of)",
        ],
    ),
    ("IS", &["Republic of Iceland", "Ísland"]),
    ("IT", &["Italian Republic", "Italia", "Repubblica Italiana"]),
    ("JO", &["Hashemite Kingdom of Jordan"]),
    ("JP", &["Nippon", "Nihon", "日本"]),
    ("KE", &["Republic of Kenya"]),
    ("KG", &["Kyrgyz Republic"]),
    ("KH", &["Kingdom of Cambodia"]),
    ("KI", &["Republic of Kiribati"]),
    ("KM", &["Union of the Comoros"]),
    (
        "KN",
        &[
            "St Kitts and Nevis",
            "Saint Kitts",
            "St Kitts",
            "Saint Christopher and Nevis",
        ],
    ),
    (
        "KP",
        &[
            "Democratic People's Republic of Korea",
            "North Korea",
            "DPRK",
            "Korea (the Democratic People's Republic of)",
            "Korea, North",
        ],
    ),
    (
        "KR",
        &[
            "South Korea",
            "Korea",
            "Republic of Korea",
            "Korea (the Republic of)",
            "Korea, South",
            "Hanguk",
            "Daehan Minguk",
            "한국",
            "대한민국",
        ],
    ),
    ("KW", &["State of Kuwait"]),
    ("KY", &["Caymans"]),
    ("KZ", &["Republic of Kazakhstan"]),
    ("LA", &["Laos", "Lao PDR", "Lao"]),
    ("LB", &["Lebanese Republic"]),
    ("LC", &["St Lucia"]),
    ("LI", &["Principality of Liechtenstein"]),
    ("LK", &["Democratic Socialist Republic of Sri Lanka"]),
    ("LR", &["Republic of Liberia"]),
    ("LS", &["Kingdom of Lesotho"]),
    ("LT", &["Republic of Lithuania", "Lietuva"]),
    (
        "LU",
        &["Grand Duchy of Luxembourg", "Lëtzebuerg", "Luxemburg"],
    ),
    ("LV", &["Republic of Latvia", "Latvija"]),
    ("MA", &["Kingdom of Morocco"]),
    ("MC", &["Principality of Monaco"]),
    (
        "MD",
        &[
            "Republic of Moldova",
            "Moldova",
            "Moldova (the Republic of)",
        ],
    ),
    ("MF", &["Saint Martin", "St Martin", "Saint-Martin"]),
    ("MG", &["Republic of Madagascar"]),
    ("MH", &["Republic of the Marshall Islands"]),
    (
        "MK",
        &[
            "Republic of North Macedonia",
            "Macedonia",
            "FYROM",
            "Severna Makedonija",
        ],
    ),
    ("ML", &["Republic of Mali"]),
    ("MM", &["Republic of Myanmar", "Burma"]),
    (
        "MO",
        &[
            "Macao Special Administrative Region of China",
            "Macau",
            "Macau SAR",
            "Macao SAR",
            "澳門",
        ],
    ),
    ("MP", &["Commonwealth of the Northern Mariana Islands"]),
    ("MR", &["Islamic Republic of Mauritania"]),
    ("MT", &["Republic of Malta"]),
    ("MU", &["Republic of Mauritius"]),
    ("MV", &["Republic of Maldives"]),
    ("MW", &["Republic of Malawi"]),
    ("MX", &["United Mexican States", "Estados Unidos Mexicanos"]),
    ("MZ", &["Republic of Mozambique"]),
    ("NA", &["Republic of Namibia"]),
    ("NE", &["Republic of the Niger"]),
    ("NG", &["Federal Republic of Nigeria"]),
    ("NI", &["Republic of Nicaragua"]),
    (
        "NL",
        &[
            "Kingdom of the Netherlands",
            "The Netherlands",
            "Holland",
            "Nederland",
            "Netherlands (Kingdom of the)",
        ],
    ),
    ("NO", &["Kingdom of Norway", "Norge", "Noreg"]),
    ("NP", &["Federal Democratic Republic of Nepal"]),
    ("NR", &["Republic of Nauru"]),
    ("NZ", &["Aotearoa"]),
    ("OM", &["Sultanate of Oman"]),
    ("PA", &["Republic of Panama"]),
    ("PE", &["Republic of Peru"]),
    ("PG", &["Independent State of Papua New Guinea", "PNG"]),
    ("PH", &["Republic of the Philippines", "Pilipinas"]),
    ("PK", &["Islamic Republic of Pakistan"]),
    ("PL", &["Republic of Poland", "Polska"]),
    ("PM", &["St Pierre and Miquelon"]),
    ("PN", &["Pitcairn Islands"]),
    (
        "PS",
        &[
            "the State of Palestine",
            "Palestine",
            "Palestinian Territories",
            "State of Palestine",
        ],
    ),
    ("PT", &["Portuguese Republic"]),
    ("PW", &["Republic of Palau"]),
    ("PY", &["Republic of Paraguay"]),
    ("QA", &["State of Qatar"]),
    ("RS", &["Republic of Serbia", "Srbija", "Србија"]),
    ("RU", &["Russia", "Rossiya", "Rossija", "Россия"]),
    ("RW", &["Rwandese Republic"]),
    ("SA", &["Kingdom of Saudi Arabia", "KSA", "السعودية"]),
    ("SC", &["Republic of Seychelles"]),
    ("SD", &["Republic of the Sudan"]),
    ("SE", &["Kingdom of Sweden", "Sverige"]),
    ("SG", &["Republic of Singapore", "Singapura", "新加坡"]),
    ("SH", &["Saint Helena", "St Helena"]),
    ("SI", &["Republic of Slovenia", "Slovenija"]),
    ("SJ", &["Svalbard"]),
    ("SK", &["Slovak Republic", "Slovensko"]),
    ("SL", &["Republic of Sierra Leone"]),
    ("SM", &["Republic of San Marino"]),
    ("SN", &["Republic of Senegal"]),
    ("SO", &["Federal Republic of Somalia"]),
    ("SR", &["Republic of Suriname"]),
    ("SS", &["Republic of South Sudan"]),
    ("ST", &["Democratic Republic of Sao Tome and Principe"]),
    ("SV", &["Republic of El Salvador"]),
    ("SX", &["Sint Maarten"]),
    ("SY", &["Syria"]),
    ("SZ", &["Kingdom of Eswatini", "Swaziland"]),
    ("TD", &["Republic of Chad"]),
    ("TG", &["Togolese Republic"]),
    ("TH", &["Kingdom of Thailand", "Prathet Thai", "ประเทศไทย"]),
    ("TJ", &["Republic of Tajikistan"]),
    ("TL", &["Democratic Republic of Timor-Leste", "East Timor"]),
    ("TN", &["Republic of Tunisia"]),
    ("TO", &["Kingdom of Tonga"]),
    ("TR", &["Republic of Türkiye", "Turkey", "Turkiye"]),
    ("TT", &["Republic of Trinidad and Tobago", "Trinidad"]),
    ("TW", &["Taiwan", "台灣", "臺灣", "台湾"]),
    (
        "TZ",
        &[
            "United Republic of Tanzania",
            "Tanzania",
            "Tanzania (the United Republic of)",
        ],
    ),
    ("UA", &["Ukraina", "Україна"]),
    ("UG", &["Republic of Uganda"]),
    (
        "UM",
        &["US Minor Outlying Islands", "U.S. Minor Outlying Islands"],
    ),
    (
        "US",
        &["United States of America", "USA", "U.S.A.", "America"],
    ),
    ("UY", &["Eastern Republic of Uruguay"]),
    ("UZ", &["Republic of Uzbekistan"]),
    (
        "VA",
        &["Vatican", "Vatican City", "Holy See", "Vatican City State"],
    ),
    (
        "VC",
        &[
            "St Vincent and the Grenadines",
            "Saint Vincent",
            "St Vincent",
        ],
    ),
    (
        "VE",
        &[
            "Bolivarian Republic of Venezuela",
            "Venezuela",
            "Venezuela (Bolivarian Republic of)",
        ],
    ),
    (
        "VG",
        &["British Virgin Islands", "BVI", "Virgin Islands (British)"],
    ),
    (
        "VI",
        &[
            "Virgin Islands of the United States",
            "US Virgin Islands",
            "U.S. Virgin Islands",
            "USVI",
            "Virgin Islands (U.S.)",
        ],
    ),
    (
        "VN",
        &["Socialist Republic of Viet Nam", "Vietnam", "Việt Nam"],
    ),
    ("VU", &["Republic of Vanuatu"]),
    ("WF", &["Wallis"]),
    ("WS", &["Independent State of Samoa"]),
    ("YE", &["Republic of Yemen"]),
    ("ZA", &["Republic of South Africa", "RSA"]),
    ("ZM", &["Republic of Zambia"]),
    ("ZW", &["Republic of Zimbabwe"]),
];

/// Latin letters with diacritics, grouped by the plain letter they fold to.
static LATIN_FOLDS: &[(char, &str)] = &[
    ('a', "àáâãäåāăąǎǟǡǻȁȃȧḁạảấầẩẫậắằẳẵặ"),
    ('b', "ḃḅḇ"),
    ('c', "çćĉċčḉ"),
    ('d', "ďđðḋḍḏḑḓ"),
    ('e', "èéêëēĕėęěȅȇȩḕḗḙḛḝẹẻẽếềểễệ"),
    ('f', "ḟ"),
    ('g', "ĝğġģǧǵḡ"),
    ('h', "ĥħȟḣḥḧḩḫẖ"),
    ('i', "ìíîïĩīĭįıǐȉȋḭḯỉị"),
    ('j', "ĵǰ"),
    ('k', "ķǩḱḳḵ"),
    ('l', "ĺļľŀłḷḹḻḽ"),
    ('m', "ḿṁṃ"),
    ('n', "ñńņňŋǹṅṇṉṋ"),
    ('o', "òóôõöøōŏőơǒǫǭǿȍȏȫȭȯȱṍṏṑṓọỏốồổỗộớờởỡợ"),
    ('p', "ṕṗ"),
    ('r', "ŕŗřȑȓṙṛṝṟ"),
    ('s', "śŝşšșṡṣṥṧṩ"),
    ('t', "ţťŧțṫṭṯṱẗ"),
    ('u', "ùúûüũūŭůűųưǔǖǘǚǜȕȗṳṵṷṹṻụủứừửữự"),
    ('v', "ṽṿ"),
    ('w', "ŵẁẃẅẇẉẘ"),
    ('x', "ẋẍ"),
    ('y', "ýÿŷȳẏẙỳỵỷỹ"),
    ('z', "źżžẑẓẕ"),
];

/// Looks up a country by its ISO alpha-2 code, ignoring case and surrounding whitespace.
#[must_use]
pub fn by_alpha2(code: &str) -> Option<&'static Country> {
    let code = code.trim();
    COUNTRIES
        .iter()
        .find(|country| country.alpha2.eq_ignore_ascii_case(code))
}

/// Resolves a free-text country value to its ISO 3166-1 entry.
///
/// Accepts alpha-2 and alpha-3 codes, English and official names, common aliases ("UK",
/// "USA", "Holland") and endonyms ("Deutschland", "Nippon"), ignoring case, whitespace,
/// punctuation (`. , - ' ( )`), a leading or trailing "the" and Latin diacritics.
/// Returns `None` for anything else, including "EU" and "Europe".
#[must_use]
pub fn normalize_country(input: &str) -> Option<&'static Country> {
    let key: String = fold(input).collect();
    if key.is_empty() {
        return None;
    }
    if let Some(found) = lookup(&key) {
        return Some(found);
    }
    let without_article = key.strip_prefix("the").unwrap_or(&key);
    let without_article = without_article
        .strip_suffix("the")
        .unwrap_or(without_article);
    if without_article.is_empty() || without_article.len() == key.len() {
        return None;
    }
    lookup(without_article)
}

/// Finds the country whose code, name or alias folds to `key`.
fn lookup(key: &str) -> Option<&'static Country> {
    let by_code = match key.len() {
        2 => by_alpha2(key),
        3 => COUNTRIES
            .iter()
            .find(|country| country.alpha3.eq_ignore_ascii_case(key)),
        _ => None,
    };
    by_code
        .or_else(|| COUNTRIES.iter().find(|country| folds_to(country.name, key)))
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(_, names)| names.iter().any(|name| folds_to(name, key)))
                .and_then(|(alpha2, _)| by_alpha2(alpha2))
        })
}

fn folds_to(candidate: &str, key: &str) -> bool {
    fold(candidate).eq(key.chars())
}

/// The characters of `text` as compared by lookups: lower case, without whitespace,
/// punctuation or diacritics, "&" spelt "and".
fn fold(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars()
        .flat_map(char::to_lowercase)
        .flat_map(|c| fold_char(c).into_iter().flatten())
}

fn fold_char(c: char) -> [Option<char>; 3] {
    const DROP: [Option<char>; 3] = [None, None, None];
    let one = |c| [Some(c), None, None];
    let two = |a, b| [Some(a), Some(b), None];
    match c {
        'a'..='z' | '0'..='9' => one(c),
        '.' | ',' | '-' | '\'' | '(' | ')' => DROP,
        // Typographic apostrophes and dashes that word processors substitute.
        '\u{2018}' | '\u{2019}' | '`' | '\u{b4}' | '\u{2010}'..='\u{2015}' => DROP,
        // Combining diacritical marks, as left by decomposed (NFD) input.
        '\u{300}'..='\u{36f}' => DROP,
        c if c.is_whitespace() => DROP,
        '&' => [Some('a'), Some('n'), Some('d')],
        'ß' => two('s', 's'),
        'æ' => two('a', 'e'),
        'œ' => two('o', 'e'),
        'þ' => two('t', 'h'),
        // Greek accents and final sigma, so "ΕΛΛΆΣ" matches "Ελλάς".
        'ά' => one('α'),
        'έ' => one('ε'),
        'ή' => one('η'),
        'ί' | 'ϊ' | 'ΐ' => one('ι'),
        'ό' => one('ο'),
        'ύ' | 'ϋ' | 'ΰ' => one('υ'),
        'ώ' => one('ω'),
        'ς' => one('σ'),
        _ => one(LATIN_FOLDS
            .iter()
            .find(|(_, accented)| accented.contains(c))
            .map_or(c, |(plain, _)| *plain)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn alpha2_of(input: &str) -> Option<&'static str> {
        normalize_country(input).map(|country| country.alpha2)
    }

    fn assert_all(expected: &str, inputs: &[&str]) {
        for input in inputs {
            assert_eq!(alpha2_of(input), Some(expected), "input {input:?}");
        }
    }

    #[test]
    fn table_holds_all_249_officially_assigned_codes_in_alpha2_order() {
        assert_eq!(COUNTRIES.len(), 249);
        for pair in COUNTRIES.windows(2) {
            assert!(
                pair[0].alpha2 < pair[1].alpha2,
                "{} before {}",
                pair[0].alpha2,
                pair[1].alpha2
            );
        }
    }

    #[test]
    fn codes_are_upper_case_letters_of_the_right_length_and_never_repeat() {
        let mut alpha2 = HashSet::new();
        let mut alpha3 = HashSet::new();
        for country in COUNTRIES {
            assert_eq!(country.alpha2.len(), 2, "{}", country.alpha2);
            assert_eq!(country.alpha3.len(), 3, "{}", country.alpha3);
            for code in [country.alpha2, country.alpha3] {
                assert!(code.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
            }
            assert!(
                alpha2.insert(country.alpha2),
                "duplicate {}",
                country.alpha2
            );
            assert!(
                alpha3.insert(country.alpha3),
                "duplicate {}",
                country.alpha3
            );
        }
    }

    #[test]
    fn every_alpha2_and_alpha3_code_round_trips_in_any_case() {
        for country in COUNTRIES {
            for code in [country.alpha2, country.alpha3] {
                assert_eq!(normalize_country(code), Some(country), "{code}");
                assert_eq!(
                    normalize_country(&code.to_lowercase()),
                    Some(country),
                    "{code}"
                );
            }
            assert_eq!(by_alpha2(country.alpha2), Some(country));
            assert_eq!(by_alpha2(&country.alpha2.to_lowercase()), Some(country));
        }
    }

    #[test]
    fn every_english_name_in_the_table_round_trips() {
        for country in COUNTRIES {
            assert_eq!(
                normalize_country(country.name),
                Some(country),
                "{}",
                country.name
            );
        }
    }

    #[test]
    fn no_name_or_alias_points_at_two_countries_or_shadows_another_code() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        let names = COUNTRIES
            .iter()
            .map(|country| (country.alpha2, country.name));
        let aliases = ALIASES
            .iter()
            .flat_map(|(alpha2, names)| names.iter().map(move |name| (*alpha2, *name)));
        for (alpha2, name) in names.chain(aliases) {
            let key: String = fold(name).collect();
            assert!(!key.is_empty(), "{name} folds to nothing");
            if let Some(previous) = seen.insert(key.clone(), alpha2) {
                assert_eq!(
                    previous, alpha2,
                    "{name} is claimed by {previous} and {alpha2}"
                );
            }
            let shadowed = COUNTRIES.iter().find(|country| {
                country.alpha2.eq_ignore_ascii_case(&key)
                    || country.alpha3.eq_ignore_ascii_case(&key)
            });
            if let Some(shadowed) = shadowed {
                assert_eq!(
                    shadowed.alpha2, alpha2,
                    "{name} reads as the code of {}",
                    shadowed.alpha2
                );
            }
            assert_eq!(alpha2_of(name), Some(alpha2), "{name}");
        }
    }

    #[test]
    fn every_alias_belongs_to_a_country_in_the_table() {
        for (alpha2, names) in ALIASES {
            assert!(by_alpha2(alpha2).is_some(), "{alpha2}");
            assert!(!names.is_empty(), "{alpha2}");
        }
    }

    #[test]
    fn telephone_facts_are_well_formed() {
        for country in COUNTRIES {
            let code = country.calling_code;
            assert!((1..=3).contains(&code.len()), "{}: {code}", country.alpha2);
            assert!(code.bytes().all(|b| b.is_ascii_digit()) && !code.starts_with('0'));
            if let Some(trunk) = country.trunk_prefix {
                assert!(!trunk.is_empty() && trunk.bytes().all(|b| b.is_ascii_digit()));
            }
            if country.keeps_trunk_zero {
                assert_eq!(country.trunk_prefix, None, "{}", country.alpha2);
            }
            if code == "1" {
                assert_eq!(
                    country.trunk_prefix,
                    Some("1"),
                    "NANP member {}",
                    country.alpha2
                );
            }
        }
        let keepers: Vec<_> = COUNTRIES
            .iter()
            .filter(|country| country.keeps_trunk_zero)
            .map(|country| country.alpha2)
            .collect();
        assert_eq!(keepers, ["IT", "SM", "VA"]);
    }

    #[test]
    fn well_known_telephone_facts_match_the_itu_assignments() {
        let facts = [
            ("DE", "49", Some("0")),
            ("GB", "44", Some("0")),
            ("FR", "33", Some("0")),
            ("US", "1", Some("1")),
            ("CA", "1", Some("1")),
            ("IT", "39", None),
            ("RU", "7", Some("8")),
            ("HU", "36", Some("06")),
            ("ES", "34", None),
            ("IE", "353", Some("0")),
            ("JP", "81", Some("0")),
        ];
        for (alpha2, calling_code, trunk_prefix) in facts {
            let country = by_alpha2(alpha2).map(|c| (c.calling_code, c.trunk_prefix));
            assert_eq!(country, Some((calling_code, trunk_prefix)), "{alpha2}");
        }
    }

    #[test]
    fn codes_match_ignoring_case_whitespace_and_dots() {
        assert_all("DE", &["DE", "de", " De ", "DEU", "deu", "D.E."]);
        assert_all("US", &["US", "U.S.", "USA", "u.s.a.", "U. S. A."]);
    }

    #[test]
    fn english_and_official_names_match_ignoring_case() {
        assert_all(
            "DE",
            &[
                "Germany",
                "GERMANY",
                "germany",
                "Federal Republic of Germany",
            ],
        );
        assert_all("FR", &["France", "French Republic"]);
        assert_all(
            "GB",
            &[
                "United Kingdom",
                "United Kingdom of Great Britain and Northern Ireland",
            ],
        );
        assert_all("US", &["United States", "United States of America"]);
        assert_all("MX", &["United Mexican States"]);
    }

    #[test]
    fn british_aliases_all_mean_gb() {
        assert_all(
            "GB",
            &[
                "UK",
                "U.K.",
                "Great Britain",
                "Britain",
                "England",
                "Scotland",
                "Wales",
                "Northern Ireland",
            ],
        );
        assert_all("IE", &["Ireland", "Republic of Ireland", "Éire", "Eire"]);
    }

    #[test]
    fn american_aliases_all_mean_us() {
        assert_all(
            "US",
            &[
                "USA",
                "U.S.A.",
                "United States of America",
                "America",
                "the United States",
            ],
        );
    }

    #[test]
    fn diacritics_are_optional_in_names() {
        assert_all(
            "AT",
            &["Österreich", "Osterreich", "OESTERREICH", "ÖSTERREICH"],
        );
        assert_all("ES", &["España", "Espana", "ESPAÑA"]);
        assert_all("MX", &["México", "Mexico", "Me\u{301}xico"]);
        assert_all("TR", &["Türkiye", "Turkiye", "Turkey"]);
        assert_all(
            "CI",
            &[
                "Côte d'Ivoire",
                "Cote d’Ivoire",
                "Cote dIvoire",
                "Ivory Coast",
            ],
        );
        assert_all("CW", &["Curaçao", "Curacao"]);
        assert_all("RE", &["Réunion", "Reunion"]);
        assert_all("ST", &["São Tomé and Príncipe", "Sao Tome and Principe"]);
        assert_all("AX", &["Åland Islands", "Aland Islands"]);
        assert_all("HU", &["Magyarország", "Magyarorszag"]);
        assert_all("VN", &["Viet Nam", "Vietnam", "Việt Nam"]);
    }

    #[test]
    fn punctuation_and_ampersands_do_not_matter() {
        assert_all("GW", &["Guinea-Bissau", "Guinea Bissau", "guinea–bissau"]);
        assert_all("TT", &["Trinidad & Tobago", "Trinidad and Tobago"]);
        assert_all("BA", &["Bosnia & Herzegovina", "Bosnia-Herzegovina"]);
        assert_all("KN", &["St. Kitts & Nevis", "Saint Kitts and Nevis"]);
        assert_all("GM", &["The Gambia", "Gambia", "Gambia (the)"]);
        assert_all("BS", &["The Bahamas", "Bahamas (the)"]);
    }

    #[test]
    fn european_endonyms_and_aliases_resolve() {
        assert_all("DE", &["Deutschland"]);
        assert_all("CH", &["Schweiz", "Suisse", "Svizzera"]);
        assert_all(
            "NL",
            &["Holland", "The Netherlands", "Nederland", "Netherlands"],
        );
        assert_all("IT", &["Italia"]);
        assert_all("SE", &["Sverige"]);
        assert_all("NO", &["Norge"]);
        assert_all("DK", &["Danmark"]);
        assert_all("FI", &["Suomi"]);
        assert_all("PL", &["Polska"]);
        assert_all("BE", &["België", "Belgique"]);
        assert_all("GR", &["Hellas", "Ellada", "Greece", "Ελλάδα", "ΕΛΛΆΣ"]);
        assert_all("PT", &["Portugal"]);
        assert_all("CZ", &["Czech Republic", "Czechia", "Česko"]);
        assert_all("RU", &["Russia", "Russian Federation", "Россия"]);
    }

    #[test]
    fn endonyms_outside_europe_resolve() {
        assert_all("BR", &["Brasil", "Brazil"]);
        assert_all("JP", &["Nippon", "Nihon", "日本"]);
        assert_all("CN", &["Zhongguo", "中国", "People's Republic of China"]);
        assert_all("IN", &["Bharat"]);
        assert_all("AE", &["UAE", "U.A.E.", "United Arab Emirates"]);
        assert_all(
            "KR",
            &[
                "South Korea",
                "Korea, Republic of",
                "Republic of Korea",
                "대한민국",
            ],
        );
        assert_all(
            "KP",
            &[
                "North Korea",
                "Korea, Democratic People's Republic of",
                "DPRK",
            ],
        );
    }

    #[test]
    fn short_forms_of_iso_long_names_resolve() {
        assert_all(
            "IR",
            &[
                "Iran",
                "Iran, Islamic Republic of",
                "Iran (Islamic Republic of)",
            ],
        );
        assert_all("SY", &["Syria", "Syrian Arab Republic"]);
        assert_all("BO", &["Bolivia", "Bolivia, Plurinational State of"]);
        assert_all("VE", &["Venezuela"]);
        assert_all("TZ", &["Tanzania"]);
        assert_all("MD", &["Moldova"]);
        assert_all("LA", &["Laos", "Lao People's Democratic Republic"]);
        assert_all("TW", &["Taiwan"]);
        assert_all(
            "CD",
            &["DR Congo", "Democratic Republic of the Congo", "DRC"],
        );
        assert_all("CG", &["Congo", "Republic of the Congo"]);
        assert_all("VA", &["Vatican", "Holy See"]);
        assert_all("MK", &["North Macedonia", "Macedonia"]);
        assert_all("SZ", &["Eswatini", "Swaziland"]);
        assert_all("MM", &["Myanmar", "Burma"]);
        assert_all("CV", &["Cabo Verde", "Cape Verde"]);
    }

    #[test]
    fn unknown_values_resolve_to_nothing() {
        for input in [
            "",
            "   ",
            "EU",
            "Europe",
            "European Union",
            "Atlantis",
            "XK",
            "ZZ",
            "123",
            "U",
            "the",
            "...",
            "Virgin Islands",
            "Germany!",
        ] {
            assert_eq!(alpha2_of(input), None, "input {input:?}");
        }
    }

    #[test]
    fn by_alpha2_accepts_only_two_letter_codes() {
        assert_eq!(by_alpha2("gb").map(|c| c.name), Some("United Kingdom"));
        for input in ["GBR", "UK", "United Kingdom", ""] {
            assert_eq!(by_alpha2(input), None, "input {input:?}");
        }
    }
}
