#!/usr/bin/env python3
"""Generate shared/lead/src/normalize/country_table.rs from pycountry.

Usage (from the repository root):

    pip install pycountry
    python3 shared/lead/tools/gen_countries.py > shared/lead/src/normalize/country_table.rs

Everything the lead normalizer needs from ISO data is generated here so that the Rust side
is only lookups:

* NAMES: sorted (lookup key, alpha-2) pairs: ISO 3166-1 English names (name, official
  name, common name), their translations from pycountry's gettext catalogues (domain
  `iso3166-1`) for the LOCALES below, and the hand-written ALIASES. A lookup key is the
  name folded by `key()` below (accents folded, case and punctuation removed, a leading
  English "the" dropped), which must stay identical to `fold_key` in country.rs.
* ALPHA2 (sorted alpha-2 codes) and ALPHA3 (sorted alpha-3 -> alpha-2 pairs).
* CURRENCIES: sorted ISO 4217 alphabetic codes.
* fold_char(): the accent-folding table for Latin letters, derived from Unicode
  decompositions (NFKD minus combining marks) plus a few letters that do not decompose.

A key that maps to different countries is resolved by priority: aliases, then English full
names, then English variants (comma inverted, text before the comma, parentheses removed),
then translated full names, then translated variants. A key that stays ambiguous at its
highest-priority level is dropped; those are reported on stderr.
"""

import gettext
import sys
import unicodedata
from importlib import metadata

import pycountry

LOCALES = [
    "de", "fr", "es", "it", "pt", "pt_BR", "nl", "pl", "sv",
    "da", "nb_NO", "fi", "cs", "sk", "ro", "hu", "hr", "sl", "ca",
]

# Common ways people write countries that ISO names and translations do not cover.
ALIASES = {
    "US": ["USA", "US", "U.S.", "U.S.A.", "United States", "United States of America",
           "America", "Vereinigte Staaten von Amerika", "Etats-Unis d'Amerique", "EEUU",
           "EE.UU.", "Estados Unidos de America", "Stati Uniti d'America"],
    "GB": ["UK", "U.K.", "United Kingdom", "Great Britain", "Britain", "England",
           "Scotland", "Wales", "Northern Ireland", "Grossbritannien", "Großbritannien",
           "Vereinigtes Königreich", "Royaume-Uni", "Grande-Bretagne", "Angleterre",
           "Reino Unido", "Gran Bretaña", "Inglaterra", "Regno Unito", "Gran Bretagna",
           "Inghilterra", "Verenigd Koninkrijk", "Groot-Brittannië", "Engeland",
           "Wielka Brytania", "Anglia", "Storbritannien", "England, UK"],
    "DE": ["Deutschland", "BRD", "Federal Republic of Germany", "Allemagne"],
    "NL": ["Holland", "The Netherlands", "Nederland", "Niederlande", "Pays-Bas",
           "Países Bajos", "Paesi Bassi", "Holanda", "Olanda", "Hollande"],
    "AT": ["Österreich", "Autriche"],
    "CH": ["Schweiz", "Suisse", "Svizzera", "Svizra", "Suiza"],
    "BE": ["Belgique", "België", "Belgien"],
    "IE": ["Éire", "Eire", "Republic of Ireland"],
    "ES": ["España", "Espana"],
    "IT": ["Italia"],
    "SE": ["Sverige"],
    "NO": ["Norge", "Noreg"],
    "DK": ["Danmark"],
    "FI": ["Suomi"],
    "PL": ["Polska"],
    "CZ": ["Czech Republic", "Czechia", "Česko", "Ceska republika", "Tschechien"],
    "SK": ["Slovensko", "Slovak Republic"],
    "HU": ["Magyarország"],
    "HR": ["Hrvatska"],
    "SI": ["Slovenija"],
    "RO": ["România"],
    "GR": ["Hellas", "Ellada", "EL"],
    "EE": ["Eesti"],
    "LV": ["Latvija"],
    "LT": ["Lietuva"],
    "PT": ["Portugal"],
    "TR": ["Turkey", "Türkiye", "Turkiye"],
    "RU": ["Russia", "Russian Federation", "Rossiya"],
    "KR": ["Korea", "South Korea", "Republic of Korea", "Korea, South"],
    "KP": ["North Korea", "Korea, North", "DPRK"],
    "IR": ["Iran"],
    "SY": ["Syria"],
    "VN": ["Vietnam", "Viet Nam"],
    "LA": ["Laos"],
    "BO": ["Bolivia"],
    "VE": ["Venezuela"],
    "TZ": ["Tanzania"],
    "MD": ["Moldova"],
    "TW": ["Taiwan"],
    "MK": ["Macedonia", "North Macedonia", "FYROM"],
    "VA": ["Vatican", "Vatican City", "Holy See"],
    "CI": ["Ivory Coast", "Cote d'Ivoire"],
    "CV": ["Cape Verde", "Cabo Verde"],
    "SZ": ["Swaziland", "Eswatini"],
    "MM": ["Burma", "Myanmar"],
    "TL": ["East Timor", "Timor-Leste"],
    "BN": ["Brunei"],
    "PS": ["Palestine", "Palestinian Territories"],
    "FM": ["Micronesia"],
    "CD": ["DR Congo", "DRC", "Democratic Republic of Congo", "Democratic Republic of the Congo",
           "Congo-Kinshasa", "Congo Kinshasa"],
    "CG": ["Congo", "Republic of the Congo", "Congo-Brazzaville", "Congo Brazzaville"],
    "AE": ["UAE", "U.A.E.", "Emirates", "United Arab Emirates"],
    "SA": ["KSA", "Saudi Arabia"],
    "ZA": ["RSA", "South Africa"],
    "CN": ["PRC", "China", "Mainland China", "People's Republic of China"],
    "HK": ["Hong Kong", "Hongkong"],
    "MO": ["Macau", "Macao"],
    "JP": ["Japan", "Nippon", "Nihon"],
    "XK": ["Kosovo", "XK"],
    "BA": ["Bosnia", "Bosnia-Herzegovina", "Bosnia and Herzegovina"],
    "VG": ["BVI", "British Virgin Islands"],
    "VI": ["USVI", "US Virgin Islands", "U.S. Virgin Islands"],
    "GM": ["Gambia", "The Gambia"],
    "BS": ["Bahamas", "The Bahamas"],
    "SX": ["Sint Maarten"],
    "MF": ["Saint Martin"],
}

# Codes that ISO 3166-1 does not assign but that forms use; accepted as alpha-2 input.
EXTRA_ALPHA2 = {"XK": "XKX"}

# Letters that have no Unicode decomposition to an ASCII base letter.
FOLD_EXTRA = {
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
    "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
    "ı": "i", "ħ": "h", "Ħ": "h", "ŧ": "t", "Ŧ": "t", "ŋ": "n", "Ŋ": "n", "ĸ": "k",
    "ŀ": "l", "Ŀ": "l", "ŉ": "n", "ƒ": "f", "ſ": "s",
}
FOLD_RANGES = [(0x00C0, 0x0250), (0x1E00, 0x1F00), (0xFF10, 0xFF5B)]


def build_fold():
    fold = {}
    for lo, hi in FOLD_RANGES:
        for cp in range(lo, hi):
            ch = chr(cp)
            if ch in FOLD_EXTRA:
                out = FOLD_EXTRA[ch]
            else:
                decomposed = unicodedata.normalize("NFKD", ch)
                out = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
            if out and out.isascii() and out.isalnum() and out != ch:
                fold[ch] = out
    for ch, out in FOLD_EXTRA.items():
        fold[ch] = out
    return fold


FOLD = build_fold()


def key(text):
    """Must match country::fold_key in Rust."""
    words, cur = [], ""
    for ch in text:
        if ch.isascii() and ch.isalnum():
            cur += ch.lower()
        elif ch in FOLD:
            cur += FOLD[ch]
        elif 0x300 <= ord(ch) <= 0x36F:
            pass
        elif ch.isalnum():
            cur += ch.lower()
        elif cur:
            words.append(cur)
            cur = ""
    if cur:
        words.append(cur)
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return "".join(words)


def variants(name):
    """Looser spellings of an ISO name: 'Korea, Republic of' -> 'Republic of Korea', 'Korea'."""
    out = []
    if name.count(",") == 1:
        head, tail = (p.strip() for p in name.split(","))
        out.append(f"{tail} {head}")
        out.append(head)
    if "(" in name and ")" in name:
        start, end = name.index("("), name.rindex(")")
        out.append((name[:start] + name[end + 1:]).strip())
    return out


def main():
    version = metadata.version("pycountry")
    candidates = {}  # key -> {level: set(alpha2)}

    def add(name, alpha2, level):
        k = key(name)
        if not k:
            return
        if not (k.isascii() and k.isalnum()):
            print(f"skipping non-ASCII key {k!r} ({name!r} -> {alpha2})", file=sys.stderr)
            return
        candidates.setdefault(k, {}).setdefault(level, set()).add(alpha2)

    for alpha2, names in ALIASES.items():
        for name in names:
            add(name, alpha2, 0)

    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[loc])
        for loc in LOCALES
    ]
    for country in pycountry.countries:
        english = [country.name]
        for attr in ("official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                english.append(value)
        for name in english:
            add(name, country.alpha_2, 1)
            for v in variants(name):
                add(v, country.alpha_2, 2)
            for t in translations:
                translated = t.gettext(name)
                if translated != name:
                    add(translated, country.alpha_2, 3)
                    for v in variants(translated):
                        add(v, country.alpha_2, 4)

    names = []
    for k, levels in sorted(candidates.items()):
        best = min(levels)
        codes = levels[best]
        if len(codes) == 1:
            names.append((k, next(iter(codes))))
        else:
            print(f"dropping ambiguous key {k!r}: {sorted(codes)}", file=sys.stderr)

    alpha3 = {c.alpha_3: c.alpha_2 for c in pycountry.countries}
    for a2, a3 in EXTRA_ALPHA2.items():
        alpha3[a3] = a2
    alpha2 = sorted(set(alpha3.values()))
    currencies = sorted({c.alpha_3 for c in pycountry.currencies})

    w = sys.stdout.write
    w("// @generated by shared/lead/tools/gen_countries.py; do not edit by hand.\n")
    w(f"// Source: pycountry {version} (ISO 3166-1, ISO 4217, iso3166-1 gettext catalogues),\n")
    w(f"// Unicode {unicodedata.unidata_version} decompositions (Python {sys.version.split()[0]}).\n")
    w(f"// Locales: {', '.join(LOCALES)}.\n")
    w("//! Generated ISO tables: country names, codes, currencies and the accent-folding map.\n\n")
    w("/// (folded country name or alias, ISO 3166-1 alpha-2), sorted by name.\n")
    w(f"pub(crate) static NAMES: [(&str, &str); {len(names)}] = [\n")
    for k, a2 in names:
        w(f'    ("{k}", "{a2}"),\n')
    w("];\n\n")
    w("/// ISO 3166-1 alpha-2 codes (plus XK), sorted.\n")
    w(f"pub(crate) static ALPHA2: [&str; {len(alpha2)}] = [\n")
    for a2 in alpha2:
        w(f'    "{a2}",\n')
    w("];\n\n")
    w("/// (ISO 3166-1 alpha-3, alpha-2), sorted by alpha-3.\n")
    w(f"pub(crate) static ALPHA3: [(&str, &str); {len(alpha3)}] = [\n")
    for a3 in sorted(alpha3):
        w(f'    ("{a3}", "{alpha3[a3]}"),\n')
    w("];\n\n")
    w("/// ISO 4217 alphabetic currency codes, sorted.\n")
    w(f"pub(crate) static CURRENCIES: [&str; {len(currencies)}] = [\n")
    for c in currencies:
        w(f'    "{c}",\n')
    w("];\n\n")
    w("/// The lowercase ASCII spelling of a Latin letter with diacritics (`É` -> `e`, `ß` -> `ss`).\n")
    w("pub(crate) fn fold_char(c: char) -> Option<&'static str> {\n")
    w("    Some(match c {\n")
    for ch in sorted(FOLD, key=ord):
        w(f"        '\\u{{{ord(ch):04x}}}' => \"{FOLD[ch]}\",\n")
    w("        _ => return None,\n")
    w("    })\n")
    w("}\n")


if __name__ == "__main__":
    main()
