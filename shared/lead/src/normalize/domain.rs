//! Company domains: from an explicit value, a website URL, or a work email address.

/// Free-mail and ISP mailbox domains (registrable part): an address there says nothing about
/// the company. Sorted for binary search.
static FREE_MAIL: &[&str] = &[
    "10minutemail.com",
    "126.com",
    "139.com",
    "163.com",
    "a1.net",
    "aim.com",
    "alice.it",
    "aliyun.com",
    "aon.at",
    "arcor.de",
    "atlas.cz",
    "att.net",
    "bbox.fr",
    "bellsouth.net",
    "bigpond.com",
    "bigpond.net.au",
    "bk.ru",
    "bluewin.ch",
    "blueyonder.co.uk",
    "bol.com.br",
    "bredband.net",
    "btinternet.com",
    "btopenworld.com",
    "centrum.cz",
    "charter.net",
    "chello.at",
    "club-internet.fr",
    "comcast.net",
    "comhem.se",
    "consultant.com",
    "cox.net",
    "dispostable.com",
    "dr.com",
    "duck.com",
    "earthlink.net",
    "email.com",
    "email.cz",
    "email.de",
    "email.it",
    "engineer.com",
    "europe.com",
    "excite.com",
    "fastmail.com",
    "fastmail.fm",
    "fastwebnet.it",
    "foxmail.com",
    "free.fr",
    "freenet.de",
    "frontier.com",
    "gazeta.pl",
    "getnada.com",
    "globo.com",
    "gmail.com",
    "go2.pl",
    "googlemail.com",
    "guerrillamail.com",
    "hanmail.net",
    "hetnet.nl",
    "hey.com",
    "hispeed.ch",
    "home.nl",
    "hushmail.com",
    "icloud.com",
    "ig.com.br",
    "iinet.net.au",
    "inbox.com",
    "inbox.ru",
    "interia.pl",
    "inwind.it",
    "iol.it",
    "juno.com",
    "kabelmail.de",
    "kolumbus.fi",
    "kpnmail.nl",
    "laposte.net",
    "libero.it",
    "list.ru",
    "luukku.com",
    "lycos.com",
    "mac.com",
    "mail.com",
    "mail.dk",
    "mail.ru",
    "mailbox.org",
    "maildrop.cc",
    "mailfence.com",
    "mailinator.com",
    "me.com",
    "movistar.es",
    "msn.com",
    "myself.com",
    "nate.com",
    "naver.com",
    "netcabo.pt",
    "netzero.net",
    "neuf.fr",
    "ntlworld.com",
    "numericable.fr",
    "o2.pl",
    "onet.pl",
    "online.de",
    "online.no",
    "op.pl",
    "optonline.net",
    "optusnet.com.au",
    "orange.fr",
    "orange.net",
    "passport.com",
    "planet.nl",
    "pm.me",
    "post.com",
    "post.cz",
    "posteo.de",
    "posteo.net",
    "prodigy.net.mx",
    "proton.me",
    "protonmail.ch",
    "protonmail.com",
    "proximus.be",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "roadrunner.com",
    "rocketmail.com",
    "rogers.com",
    "rr.com",
    "runbox.com",
    "sapo.pt",
    "sbcglobal.net",
    "seznam.cz",
    "sfr.fr",
    "sharklasers.com",
    "shaw.ca",
    "sina.cn",
    "sina.com",
    "sky.com",
    "skynet.be",
    "sohu.com",
    "sol.dk",
    "spray.se",
    "start.no",
    "sunrise.ch",
    "suomi24.fi",
    "sympatico.ca",
    "t-online.de",
    "talktalk.net",
    "telenet.be",
    "telenor.no",
    "telia.com",
    "telus.net",
    "temp-mail.org",
    "terra.com.br",
    "terra.es",
    "tin.it",
    "tiscali.co.uk",
    "tiscali.it",
    "tlen.pl",
    "trashmail.com",
    "tuta.io",
    "tutamail.com",
    "tutanota.com",
    "tutanota.de",
    "uol.com.br",
    "usa.com",
    "verizon.net",
    "videotron.ca",
    "virgilio.it",
    "virginmedia.com",
    "vodafone.de",
    "volny.cz",
    "vp.pl",
    "wanadoo.fr",
    "web.de",
    "windstream.net",
    "wp.pl",
    "xs4all.nl",
    "xtra.co.nz",
    "ya.ru",
    "yeah.net",
    "yopmail.com",
    "ziggo.nl",
    "zoho.com",
    "zohomail.com",
];

/// Free-mail brands whose domain exists under many suffixes (`yahoo.co.uk`, `gmx.at`,
/// `hotmail.fr`, `live.com.au`...): matched on the label before the public suffix.
static FREE_MAIL_BRANDS: &[&str] = &[
    "aol",
    "gmx",
    "hotmail",
    "live",
    "outlook",
    "windowslive",
    "yahoo",
    "yandex",
    "ymail",
];

/// Hosts that are not a company's own site (social networks, link shorteners, marketplaces):
/// a `website` there does not give the company domain.
static PLATFORMS: &[&str] = &[
    "angel.co",
    "bit.ly",
    "crunchbase.com",
    "ebay.com",
    "etsy.com",
    "facebook.com",
    "fb.com",
    "fb.me",
    "github.com",
    "gitlab.com",
    "goo.gl",
    "google.com",
    "instagram.com",
    "linkedin.com",
    "linktr.ee",
    "medium.com",
    "pinterest.com",
    "t.me",
    "tiktok.com",
    "twitter.com",
    "wa.me",
    "whatsapp.com",
    "x.com",
    "xing.com",
    "yelp.com",
    "youtu.be",
    "youtube.com",
];

/// Second-level labels that, under a two-letter country TLD, form a public suffix
/// (`co.uk`, `com.au`, `co.jp`, `com.br`, `gv.at`...).
static GENERIC_SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "go", "gob", "gouv", "gov", "gv", "ltd", "me", "mil", "ne", "net",
    "nic", "nom", "or", "org", "plc", "sch",
];

/// Multi-label suffixes that the generic rule misses, including hosting platforms where each
/// customer gets a subdomain (`acme.github.io`). Sorted.
static KNOWN_SUFFIXES: &[&str] = &[
    "appspot.com",
    "azurewebsites.net",
    "blogspot.com",
    "cloudfront.net",
    "github.io",
    "herokuapp.com",
    "myshopify.com",
    "netlify.app",
    "pages.dev",
    "vercel.app",
    "wixsite.com",
    "wordpress.com",
];

/// Whether `d` (lowercase, no trailing dot) is a syntactically valid domain name with at least
/// two labels: labels of 1-63 bytes made of letters (any script), digits and inner hyphens,
/// a non-numeric top-level label of at least two characters, at most 253 bytes in all.
pub(crate) fn is_valid_domain(d: &str) -> bool {
    if d.is_empty() || d.len() > 253 {
        return false;
    }
    let mut labels = 0;
    let mut last = "";
    for label in d.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c == '-' || c.is_alphanumeric());
        if !ok {
            return false;
        }
        labels += 1;
        last = label;
    }
    let tld_ok = if let Some(puny) = last.strip_prefix("xn--") {
        !puny.is_empty()
    } else {
        last.chars().count() >= 2 && last.chars().all(char::is_alphabetic)
    };
    labels >= 2 && tld_ok
}

/// The registrable part of a valid domain, heuristically: the last two labels, or the last
/// three when the last two form a known public suffix (`eu.mail.acme.co.uk` -> `acme.co.uk`).
pub(crate) fn registrable(d: &str) -> &str {
    let dots: Vec<usize> = d.match_indices('.').map(|(i, _)| i).collect();
    let n = dots.len() + 1;
    if n <= 2 {
        return d;
    }
    // Start of the last two labels, and of the last three.
    let two = dots[dots.len() - 2] + 1;
    let three = if dots.len() >= 3 {
        dots[dots.len() - 3] + 1
    } else {
        0
    };
    let suffix = &d[two..];
    let (sld, tld) = suffix.split_once('.').unwrap_or((suffix, ""));
    let public_suffix = KNOWN_SUFFIXES.binary_search(&suffix).is_ok()
        || (tld.len() == 2
            && tld.bytes().all(|b| b.is_ascii_alphabetic())
            && GENERIC_SECOND_LEVEL.binary_search(&sld).is_ok());
    if public_suffix { &d[three..] } else { suffix }
}

/// Whether a registrable domain belongs to a free-mail or ISP mailbox provider.
pub(crate) fn is_free_mail(registrable: &str) -> bool {
    if FREE_MAIL.binary_search(&registrable).is_ok() {
        return true;
    }
    let brand = registrable.split('.').next().unwrap_or_default();
    FREE_MAIL_BRANDS.binary_search(&brand).is_ok()
}

/// The host of a URL-ish value: scheme, user info, path, query, fragment and port removed.
fn host_of(input: &str) -> &str {
    let mut s = input.trim();
    if let Some(i) = s.find("://") {
        s = &s[i + 3..];
    } else if let Some(rest) = s.strip_prefix("//") {
        s = rest;
    }
    if let Some(i) = s.find(['/', '?', '#', '\\']) {
        s = &s[..i];
    }
    if let Some(i) = s.rfind('@') {
        s = &s[i + 1..];
    }
    if let Some((host, port)) = s.rsplit_once(':')
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        s = host;
    }
    s
}

/// Normalizes an explicit company domain or website: lowercase, scheme, `www.`, path and port
/// stripped, reduced to its registrable part. `None` if what remains is not a valid domain.
/// Idempotent.
pub(crate) fn normalize(input: &str) -> Option<String> {
    let host = host_of(input).to_lowercase();
    let mut host = host.strip_suffix('.').unwrap_or(&host);
    if let Some(rest) = host.strip_prefix("www.") {
        host = rest;
    }
    if !is_valid_domain(host) {
        return None;
    }
    Some(registrable(host).to_string())
}

/// The company domain implied by a website, unless the site is hosted on a social network,
/// a free-mail domain or another platform that is not the company's own.
pub(crate) fn from_website(input: &str) -> Option<String> {
    let d = normalize(input)?;
    if is_free_mail(&d) || PLATFORMS.binary_search(&d.as_str()).is_ok() {
        return None;
    }
    Some(d)
}

/// The company domain implied by a (normalized, valid) email address, unless it is free-mail.
pub(crate) fn from_email(email: &str) -> Option<String> {
    let (_, domain) = email.rsplit_once('@')?;
    if !is_valid_domain(domain) {
        return None;
    }
    let d = registrable(domain);
    if is_free_mail(d) {
        None
    } else {
        Some(d.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted() {
        for list in [
            FREE_MAIL,
            FREE_MAIL_BRANDS,
            PLATFORMS,
            GENERIC_SECOND_LEVEL,
            KNOWN_SUFFIXES,
        ] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "{:?}",
                list.windows(2).find(|w| w[0] >= w[1])
            );
        }
        assert!(FREE_MAIL.len() + FREE_MAIL_BRANDS.len() >= 150);
    }

    #[test]
    fn valid_domains() {
        for d in [
            "acme.com",
            "a.co",
            "xn--mller-kva.de",
            "müller.de",
            "my-site.co.uk",
            "x.xn--p1ai",
            "1password.com",
        ] {
            assert!(is_valid_domain(d), "{d}");
        }
        for d in [
            "",
            "acme",
            ".acme.com",
            "acme..com",
            "-acme.com",
            "acme-.com",
            "acme.c",
            "1.2.3.4",
            "acme.com.",
            "ac me.com",
            "acme_co.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(!is_valid_domain(d), "{d}");
        }
    }

    #[test]
    fn registrable_parts() {
        for (input, want) in [
            ("acme.com", "acme.com"),
            ("eu.mail.acme.com", "acme.com"),
            ("mail.acme.co.uk", "acme.co.uk"),
            ("acme.co.uk", "acme.co.uk"),
            ("co.uk", "co.uk"),
            ("shop.acme.com.au", "acme.com.au"),
            ("www.acme.co.jp", "acme.co.jp"),
            ("a.b.acme.com.br", "acme.com.br"),
            ("acme.github.io", "acme.github.io"),
            ("docs.acme.github.io", "acme.github.io"),
            ("sub.acme.de", "acme.de"),
            ("bigpond.net.au", "bigpond.net.au"),
        ] {
            assert_eq!(registrable(input), want, "{input}");
        }
    }

    #[test]
    fn explicit_and_website_normalization() {
        for (input, want) in [
            ("ACME.com", Some("acme.com")),
            ("https://www.Acme.com/about?x=1#top", Some("acme.com")),
            ("http://acme.com:8080", Some("acme.com")),
            ("www.acme.co.uk/", Some("acme.co.uk")),
            ("//cdn.acme.io/x", Some("acme.io")),
            ("https://user:pw@shop.acme.com", Some("acme.com")),
            ("acme.com.", Some("acme.com")),
            ("https://MÜLLER.de", Some("müller.de")),
            ("n/a", None),
            ("-", None),
            ("localhost", None),
            ("http://192.168.0.1/", None),
            ("acme", None),
            ("not a domain.com", None),
        ] {
            assert_eq!(normalize(input).as_deref(), want, "{input}");
            if let Some(w) = want {
                assert_eq!(normalize(w).as_deref(), Some(w), "idempotent {w}");
            }
        }
        assert_eq!(
            from_website("https://www.facebook.com/acmebakery").as_deref(),
            None
        );
        assert_eq!(from_website("linkedin.com/company/acme").as_deref(), None);
        assert_eq!(from_website("gmail.com").as_deref(), None);
        assert_eq!(
            from_website("https://acme-bakery.de/kontakt").as_deref(),
            Some("acme-bakery.de")
        );
    }

    #[test]
    fn email_domains() {
        for (email, want) in [
            ("j@acme.com", Some("acme.com")),
            ("j@eu.mail.acme.com", Some("acme.com")),
            ("j@acme.co.uk", Some("acme.co.uk")),
            ("j@gmail.com", None),
            ("j@googlemail.com", None),
            ("j@yahoo.co.uk", None),
            ("j@mail.yahoo.com", None),
            ("j@hotmail.fr", None),
            ("j@outlook.de", None),
            ("j@live.com.au", None),
            ("j@gmx.at", None),
            ("j@gmx.net", None),
            ("j@web.de", None),
            ("j@t-online.de", None),
            ("j@orange.fr", None),
            ("j@libero.it", None),
            ("j@poczta.onet.pl", None),
            ("j@proton.me", None),
            ("j@yandex.ru", None),
            ("j@qq.com", None),
            ("j@bigpond.net.au", None),
            ("j@university.ac.uk", Some("university.ac.uk")),
            ("j@livestream.com", Some("livestream.com")),
        ] {
            assert_eq!(from_email(email).as_deref(), want, "{email}");
        }
    }
}
