"""Where a visit came from: channel classification from UTM parameters, click ids and the
referrer. Pure functions, no database.

The rules, in order (the first that applies wins):

1. nothing tagged and the referrer is one of our own sites → ``internal`` (not a touch);
2. ``utm_medium`` email / newsletter, or a webmail referrer → ``email``;
3. a paid medium (cpc, ppc, paid, …) or an ad click id (gclid, gbraid, wbraid, msclkid) →
   ``paid_social`` when the source is a social network, else ``paid_search``;
4. a social source (Instagram, Facebook, LinkedIn, X, TikTok, YouTube, …; also a
   link-in-bio page such as linktr.ee) or a social medium → ``social``;
5. a search engine source or ``utm_medium=organic`` → ``organic_search``;
6. ``utm_medium=referral`` or any other referring site → ``referral``;
7. no tag, no click id, no referrer → ``direct``; anything else tagged → ``other``.

Source names are canonical: ``utm_source=ig`` (Instagram lead ads), ``instagram``,
``l.instagram.com`` all become ``instagram``; ``twitter`` and ``t.co`` become ``x``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
AD_CLICK_IDS = {
    "gclid": "google",
    "gbraid": "google",
    "wbraid": "google",
    "dclid": "google",
    "msclkid": "bing",
}
SOCIAL_CLICK_IDS = {
    "fbclid": "facebook",
    "ttclid": "tiktok",
    "li_fat_id": "linkedin",
    "twclid": "x",
    "igshid": "instagram",
}
CLICK_ID_PARAMS = (*AD_CLICK_IDS, *SOCIAL_CLICK_IDS)

EMAIL_MEDIUMS = frozenset({"email", "e-mail", "e_mail", "newsletter", "mail"})
PAID_MEDIUMS = frozenset(
    {
        "cpc",
        "ppc",
        "paid",
        "paidsearch",
        "paid_search",
        "paid-search",
        "sem",
        "cpm",
        "cpv",
        "cpa",
        "paid_social",
        "paidsocial",
        "paid-social",
        "social_paid",
        "social-paid",
        "ads",
        "ad",
    }
)
SOCIAL_MEDIUMS = frozenset(
    {
        "social",
        "social-network",
        "social_network",
        "social-media",
        "social_media",
        "sm",
        "organic_social",
    }
)

SEARCH_ENGINES = {
    "google": "google",
    "bing.com": "bing",
    "duckduckgo.com": "duckduckgo",
    "search.yahoo.com": "yahoo",
    "yahoo.com": "yahoo",
    "yandex": "yandex",
    "baidu.com": "baidu",
    "ecosia.org": "ecosia",
    "search.brave.com": "brave",
    "startpage.com": "startpage",
    "qwant.com": "qwant",
    "naver.com": "naver",
}
SOCIAL_HOSTS = {
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "fb.me": "facebook",
    "messenger.com": "messenger",
    "instagram.com": "instagram",
    "linkedin.com": "linkedin",
    "lnkd.in": "linkedin",
    "twitter.com": "x",
    "x.com": "x",
    "t.co": "x",
    "tiktok.com": "tiktok",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "pinterest.com": "pinterest",
    "pin.it": "pinterest",
    "reddit.com": "reddit",
    "threads.net": "threads",
    "whatsapp.com": "whatsapp",
    "wa.me": "whatsapp",
    "t.me": "telegram",
}
LINK_IN_BIO_HOSTS = frozenset(
    {
        "linktr.ee",
        "lnk.bio",
        "beacons.ai",
        "campsite.bio",
        "bio.link",
        "linkin.bio",
        "taplink.cc",
        "hoo.be",
        "later.com",
        "msha.ke",
        "solo.to",
    }
)
WEBMAIL_HOSTS = frozenset(
    {
        "mail.google.com",
        "outlook.live.com",
        "outlook.office.com",
        "outlook.office365.com",
        "mail.yahoo.com",
        "mail.proton.me",
        "mail.aol.com",
        "mail.zoho.com",
    }
)
SOURCE_ALIASES = {
    "ig": "instagram",
    "insta": "instagram",
    "instagram_ads": "instagram",
    "instagram ads": "instagram",
    "fb": "facebook",
    "meta": "facebook",
    "facebook_ads": "facebook",
    "msg": "messenger",
    "tw": "x",
    "twitter": "x",
    "li": "linkedin",
    "yt": "youtube",
    "tt": "tiktok",
    "adwords": "google",
    "googleads": "google",
    "google_ads": "google",
    "google ads": "google",
    "bingads": "bing",
    "microsoft": "bing",
}
SOCIAL_SOURCES = frozenset({*SOCIAL_HOSTS.values(), "messenger"})
SEARCH_SOURCES = frozenset(SEARCH_ENGINES.values())
# The source names classification gives by itself (a referring site of no network keeps
# its host): what a marketer picks from when filtering or scoring on a source.
KNOWN_SOURCES = tuple(
    sorted({*SOCIAL_SOURCES, *SEARCH_SOURCES, *AD_CLICK_IDS.values(), *SOCIAL_CLICK_IDS.values()})
)
# The mediums classification gives a touch tagged without utm_medium.
CLASSIFIED_MEDIUMS = ("cpc", "email", "organic", "paid", "referral", "social")


@dataclasses.dataclass(frozen=True)
class Source:
    """The channel and source / medium / campaign / term / content of one touch."""

    channel: str
    source: str = ""
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""

    @property
    def is_touch(self) -> bool:
        return self.channel not in ("", "internal")


NO_SOURCE = Source("")  # an event that is not a page view carries no source


# scheme://host[:port] followed by the path, query, fragment or the end: the common case,
# read without urlsplit (the collect endpoint asks for two hosts per page view).
_PLAIN_HOST = re.compile(r"https?://([A-Za-z0-9.-]+)(?::[0-9]*)?(?:[/?#]|$)", re.ASCII)


def host_of(url: str) -> str:
    """The lower-case host of ``url`` without port and without a leading ``www.``."""
    url = url.strip()
    if plain := _PLAIN_HOST.match(url):
        return plain.group(1).lower().removeprefix("www.")
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def campaign_params(url: str) -> dict[str, str]:
    """The ``utm_*`` parameters and ad click ids in the query string of ``url``."""
    if "?" not in url:
        return {}
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {
        name: query[name][0].strip()[:200]
        for name in (*UTM_PARAMS, *CLICK_ID_PARAMS)
        if query.get(name) and query[name][0].strip()
    }


def _match(host: str, table: Mapping[str, str] | Collection[str]) -> str:
    """The table entry whose domain is ``host`` or a parent of it ("google" matches any
    google.<tld>). Returns the mapped name (or the domain for a plain collection)."""
    if not host:
        return ""
    labels = host.split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        if candidate in table:
            return table[candidate] if isinstance(table, Mapping) else candidate
    if isinstance(table, Mapping):
        for domain, name in table.items():
            if "." not in domain and domain in labels[:-1]:  # google.com.br, yandex.ru
                return name
    return ""


@lru_cache(maxsize=4096)
def _referrer_kinds(host: str) -> tuple[str, str, str]:
    """(search engine, social network, link-in-bio page) of a referring host; referring
    hosts are few, so each is looked up once per process."""
    search = _match(host, SEARCH_ENGINES) if host not in WEBMAIL_HOSTS else ""
    return search, _match(host, SOCIAL_HOSTS), _match(host, LINK_IN_BIO_HOSTS)


@lru_cache(maxsize=256)
def _own_hosts_normalised(own_hosts: frozenset[str]) -> frozenset[str]:
    return frozenset(host.removeprefix("www.").lower() for host in own_hosts)


def source_canonical(value: str) -> str:
    """``ig`` → ``instagram``, ``l.instagram.com`` → ``instagram``, others lower-cased."""
    value = value.strip().lower()
    if value in SOURCE_ALIASES:
        return SOURCE_ALIASES[value]
    if value in SOCIAL_SOURCES or value in SEARCH_SOURCES:
        return value
    if "." in value:
        host = value.removeprefix("www.")
        return _match(host, SOCIAL_HOSTS) or _match(host, SEARCH_ENGINES) or host
    return value


def _is_internal(referrer_host: str, url: str, own_hosts: Collection[str]) -> bool:
    if not referrer_host:
        return False
    if referrer_host in _own_hosts_normalised(frozenset(own_hosts)):
        return True
    return bool(url) and referrer_host == host_of(url)


def classify(
    *,
    utm: Mapping[str, str] | None = None,
    referrer: str = "",
    click_ids: Mapping[str, str] | None = None,
    url: str = "",
    own_hosts: Collection[str] = (),
) -> Source:
    """The :class:`Source` of a visit to ``url`` from ``referrer`` with ``utm`` tags.

    ``own_hosts`` are the hosts of our sites: a referrer from one of them is internal
    navigation unless the visit is tagged.
    """
    utm = {key: (value or "").strip() for key, value in (utm or {}).items()}
    click_ids = {key: value for key, value in (click_ids or {}).items() if value}
    ref_host = host_of(referrer) if referrer else ""
    raw_source = utm.get("utm_source", "")
    medium = utm.get("utm_medium", "").lower()
    tagged = bool(raw_source or medium or utm.get("utm_campaign"))
    extra = {
        "campaign": utm.get("utm_campaign", "")[:200],
        "term": utm.get("utm_term", "")[:200],
        "content": utm.get("utm_content", "")[:200],
    }
    if _is_internal(ref_host, url, own_hosts):
        if not tagged and not click_ids:
            return Source("internal")
        ref_host = ""  # a tagged link on our own site: the tags tell the source, not we

    ref_search, ref_social, ref_bio = _referrer_kinds(ref_host)
    ad_click = next((AD_CLICK_IDS[key] for key in AD_CLICK_IDS if key in click_ids), "")
    social_click = next((SOCIAL_CLICK_IDS[key] for key in SOCIAL_CLICK_IDS if key in click_ids), "")

    source = (
        source_canonical(raw_source)
        if raw_source
        else (
            ad_click
            or ref_social
            or (social_click if not ref_host or ref_bio else "")
            or ref_search
            or ref_host
        )
    )
    source = source[:200]

    def result(channel: str, default_medium: str) -> Source:
        return Source(channel, source, (medium or default_medium)[:200], **extra)

    if medium in EMAIL_MEDIUMS or (not tagged and ref_host in WEBMAIL_HOSTS):
        return result("email", "email")
    if medium in PAID_MEDIUMS or ad_click:
        if source in SOCIAL_SOURCES or "social" in medium:
            return result("paid_social", "paid")
        return result("paid_search", "cpc")
    if (
        source in SOCIAL_SOURCES
        or medium in SOCIAL_MEDIUMS
        or (not tagged and (ref_bio or social_click))
    ):
        return result("social", "social")
    if source in SEARCH_SOURCES or medium == "organic":
        return result("organic_search", "organic")
    if medium == "referral" or (not tagged and ref_host):
        return result("referral", "referral")
    if not tagged and not ref_host:
        return Source("direct")
    return result("other", "")


def source_of(
    *,
    url: str,
    referrer: str = "",
    utm: Mapping[str, str] | None = None,
    own_hosts: Collection[str] = (),
) -> tuple[Source, dict[str, str]]:
    """Classify a page view of ``url``: UTM tags given explicitly win over those in the URL.

    Returns the source and the click ids found in the URL (kept in the event's properties).
    """
    params = campaign_params(url)
    tags = {name: params.get(name, "") for name in UTM_PARAMS}
    tags.update(
        {name: value for name, value in (utm or {}).items() if name in UTM_PARAMS and value}
    )
    click_ids = {name: params[name] for name in CLICK_ID_PARAMS if name in params}
    return classify(
        utm=tags, referrer=referrer, click_ids=click_ids, url=url, own_hosts=own_hosts
    ), click_ids
