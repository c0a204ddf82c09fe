import pytest

from ecscreen.domain.countries import resolve


@pytest.mark.parametrize(
    "text,code",
    [
        ("CN", "CN"), ("cn", "CN"), ("CHN", "CN"), ("chn", "CN"), ("China", "CN"), ("CHINA", "CN"),
        ("People's Republic of China", "CN"), ("China (PRC)", "CN"), ("Hong Kong", "HK"), ("Macao", "MO"),
        ("Macau", "MO"), ("Russia", "RU"), ("Russian Federation", "RU"), ("Korea, South", "KR"),
        ("south korea", "KR"), ("North Korea", "KP"), ("Burma", "MM"), ("Türkiye", "TR"), ("Turkey", "TR"),
        ("Germany", "DE"), ("deu", "DE"), ("Netherlands", "NL"), ("Holland", "NL"), ("UK", "GB"),
        ("United States", "US"), ("usa", "US"), ("Kosovo", "XK"), ("Crimea", "UA-43"), ("dnr", "UA-14"),
        ("LNR", "UA-09"), ("  japan ", "JP"), ("Cote d'Ivoire", "CI"),
    ],
)
def test_resolve(text, code):
    c = resolve(text)
    assert c is not None and c.code == code


@pytest.mark.parametrize("text", ["Atlantis", "", "  ", "ZZ", "XYZ", "Chinaa", None])
def test_unknown_is_none(text):
    assert resolve(text) is None


def test_region_keeps_parent():
    c = resolve("Crimea")
    assert c is not None and c.alpha2 == "UA" and c.region == "UA-43" and "Crimea" in c.name
