"""A simulated day of export parcel records, to measure linking parcels into sellers' cases.

`python -m train.traffic --parcels 10000 --seed 0 --out datasets/traffic/day.csv`

Who sends (rates are the constants below):
- Independent genuine senders, most with 1 parcel (70 %), 2 (20 %) or 3 (10 %); 1 % of senders
  are genuine shops with 5-40 parcels under one consistent identity. Their cities include the
  counterfeit hubs, their shoes carry the same style codes and "made in" lines as the fakes.
- 5-15 counterfeit sellers (--sellers), together about 15 % of the day (--counterfeit-share),
  each with 30-400 parcels. A seller ships one counterfeit model from one hub city (Yiwu, Ningbo,
  Putian, Guangzhou, Jinjiang, Quanzhou) to 2-4 destinations inside a 2-6 hour window. It rotates
  5-40 sender names and renders 1-3 warehouse addresses with abbreviations, dropped words and
  typos. It shares a phone (1-3 numbers, written in several formats, on 80 % of its parcels),
  a platform account (1-2 accounts, on 85 % of its parcels), or both: a third of the sellers
  each way; the others use a fresh number or a fresh account per parcel.

Noise on every parcel: a phone written without its carrier prefix 5 %, a name typo 15 %
(sellers 25 %), an address typo 20 % (sellers 35 %), phone missing 10 %, account missing 8 %,
address missing 4 %, dispatch time missing 2 %, style code unreadable 30 %, "made in"
unreadable 30 %. Malformed values: dispatch time not a date
0.3 %, weight negative 0.2 %, declared value not a number 0.3 %.

Every parcel gets `label` and the true `seller_id` (for scoring only; the linker never reads
them) and, with --photos, `photos` (';'-joined paths) of one listing drawn from a manifest by
class: genuine senders from genuine listings of any model, a seller from its model's
counterfeit listings. The default manifest holds the listings the final model did not train on.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

DEFAULT_PHOTOS = "runs/real-photos/final/holdout/aj1-af1-photos.csv"
DAY = "2024-05-14"
GENUINE_SIZES, GENUINE_SIZE_P = (1, 2, 3), (0.7, 0.2, 0.1)
SHOP_SHARE = 0.01
NAME_TYPO, ADDRESS_TYPO = 0.15, 0.20
SELLER_NAME_TYPO, SELLER_ADDRESS_TYPO = 0.25, 0.35
MISSING = {"sender_phone": 0.10, "seller_account": 0.08, "sender_address": 0.04,
           "dispatch_time": 0.02, "style_code": 0.30, "made_in": 0.30}
MALFORMED = {"dispatch_time": 0.003, "weight_g": 0.002, "declared_value": 0.003}
SELLER_PHONE_SHARE, SELLER_ACCOUNT_SHARE = 0.80, 0.85
# Phones written without the 3-digit carrier prefix (only the last 8 digits).
LOCAL_PHONE = 0.05

HUBS = ("Yiwu", "Ningbo", "Putian", "Guangzhou", "Jinjiang", "Quanzhou")
OTHER_CITIES = ("Shenzhen", "Shanghai", "Hangzhou", "Xiamen", "Dongguan", "Beijing", "Wenzhou",
                "Suzhou", "Fuzhou", "Tianjin", "Chengdu", "Wuhan")
CITY_TO_PROVINCE = {"Yiwu": "Zhejiang", "Ningbo": "Zhejiang", "Hangzhou": "Zhejiang",
                    "Wenzhou": "Zhejiang", "Putian": "Fujian", "Jinjiang": "Fujian",
                    "Quanzhou": "Fujian", "Xiamen": "Fujian", "Fuzhou": "Fujian",
                    "Guangzhou": "Guangdong", "Shenzhen": "Guangdong", "Dongguan": "Guangdong",
                    "Shanghai": "Shanghai", "Beijing": "Beijing", "Suzhou": "Jiangsu",
                    "Tianjin": "Tianjin", "Chengdu": "Sichuan", "Wuhan": "Hubei"}
DESTINATIONS = ("IT", "ES", "FR", "DE", "NL", "BE", "PL", "PT", "AT", "GR", "SE", "IE", "CZ")
DEST_P = (0.16, 0.15, 0.14, 0.15, 0.07, 0.05, 0.06, 0.05, 0.04, 0.04, 0.04, 0.03, 0.02)
PLATFORMS = ("AliExpress", "Temu", "DHgate", "Shein", "Wish", "direct")
SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu",
            "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao", "Zheng", "Liang", "Xie",
            "Song", "Tang", "Han", "Feng", "Deng", "Cao", "Peng", "Zeng", "Xiao", "Tian", "Dong",
            "Pan", "Yuan", "Cai", "Jiang", "Yu", "Du", "Ye", "Cheng", "Wei", "Su", "Lu", "Ding")
GIVEN = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Tao",
         "Ming", "Chao", "Xiu", "Hua", "Hong", "Gang", "Ping", "Hui", "Bo", "Lin", "Qiang", "Li",
         "Xin", "Yu", "Hao", "Kai", "Ling", "Rui", "Dan", "Bin", "Feng", "Lan", "Mei", "Qing",
         "Shan", "Ting", "Xia", "Yun", "Zhen", "Peng", "Long", "Jian", "Wen", "Ying", "Cheng")
# Trade names are two of these syllables: 1,600 names, so that names collide about as rarely as
# registered firms do, not as often as one short list would make them.
COMPANY_SYLLABLES = ("Xin", "Da", "Hua", "Mei", "Jia", "Yi", "Hong", "Xing", "Tian", "Li", "Sheng",
                     "Yong", "Fa", "Jin", "Hui", "Rui", "Feng", "Bao", "Heng", "Tong", "Ming",
                     "Yang", "Fu", "Lian", "He", "Kai", "Long", "Shun", "Tai", "Chang", "Cheng",
                     "Guang", "Hao", "Jun", "Mao", "Rong", "Sen", "Wei", "Xiang", "Zhong")
COMPANY_KINDS = ("Trading Co Ltd", "Import & Export Co., Ltd.", "E-commerce Firm",
                 "Shoes Co Ltd", "Supply Chain Co")
STREETS = ("Chouzhou", "Jiangbin", "Xuefeng", "Zhongshan", "Renmin", "Jiefang", "Binjiang",
           "Futian", "Chengbei", "Huancheng", "Gongye", "Xinhua", "Wenhua", "Jianshe", "Yingbin")
STREET_KINDS = ("Road", "Street", "Avenue")
DISTRICTS = ("Futian", "Choujiang", "Beiyuan", "Licheng", "Haishu", "Yinzhou", "Baiyun",
             "Panyu", "Chendai", "Fengze", "Jiangdong", "Xiuyu")
RECIPIENT_FIRST = ("Marco", "Giulia", "Luca", "Sofia", "Javier", "Lucia", "Pierre", "Camille",
                   "Jan", "Anna", "Pedro", "Maria", "Tomasz", "Eva", "Nikos", "Sara", "Lars")
RECIPIENT_LAST = ("Rossi", "Bianchi", "Garcia", "Lopez", "Martin", "Bernard", "Muller",
                  "Schmidt", "de Vries", "Nowak", "Silva", "Papadopoulos", "Andersson", "Murphy")
GENUINE_GOODS = ("sneakers", "running shoes", "shoes", "basketball shoes", "footwear")
SELLER_GOODS = ("sports shoes", "shoes", "footwear sample", "gift", "shoes sample", "sneaker")
# Style codes as printed on the size tag, and the country each is made in.
CATALOGUE = {
    "air-force-1": (("CW2288-111", "vietnam"), ("DD8959-100", "vietnam"),
                    ("315122-111", "china")),
    "air-jordan-1": (("555088-134", "china"), ("DZ5485-612", "vietnam"),
                     ("553558-161", "indonesia")),
    "dunk-low": (("DD1391-100", "vietnam"), ("DD1503-101", "china")),
    "yeezy-350": (("GW3773", "china"), ("FZ5000", "vietnam")),
}
COLUMNS = ("parcel_id", "sender_name", "sender_address", "sender_phone", "origin_city",
           "dispatch_country", "dispatch_time", "destination_country", "recipient_name",
           "platform", "seller_account", "declared_goods", "declared_value", "weight_g",
           "style_code", "made_in", "brand", "model", "label", "seller_id")


@dataclass
class Sender:
    """Who ships a run of parcels: the identities it may write and how it behaves."""

    seller_id: str
    label: str
    n: int
    names: list[str]
    addresses: list[str]
    phones: list[str]
    accounts: list[str]
    platform: str
    city: str
    destinations: tuple[str, ...]
    window: tuple[float, float]
    model: str
    style: tuple[str, str]
    shares_phone: bool = True
    shares_account: bool = True
    listings: list[str] = field(default_factory=list)


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choices(string.digits, k=9))


def _format_phone(number: str, rng: random.Random) -> str:
    style = rng.randrange(5)
    if rng.random() < LOCAL_PHONE:
        return f"{number[3:7]} {number[7:]}"
    if style == 0:
        return f"+86 {number[:3]} {number[3:7]} {number[7:]}"
    if style == 1:
        return f"0086-{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return f"+86{number}" if style == 3 else number


def _person(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN).lower() if rng.random() < 0.5 else "")
    return f"{rng.choice(SURNAMES)} {given}"


def _company(city: str, rng: random.Random) -> str:
    prefix = f"{city} " if rng.random() < 0.6 else ""
    name = rng.choice(COMPANY_SYLLABLES) + rng.choice(COMPANY_SYLLABLES).lower()
    return f"{prefix}{name} {rng.choice(COMPANY_KINDS)}"


def _address(city: str, rng: random.Random) -> str:
    unit = f"Room {rng.randint(101, 2400)}, " if rng.random() < 0.5 else ""
    building = f"Building {rng.randint(1, 30)}, " if rng.random() < 0.5 else ""
    street = f"No. {rng.randint(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}"
    district = f"{rng.choice(DISTRICTS)} District"
    return f"{unit}{building}{street}, {district}, {city}, {CITY_TO_PROVINCE[city]}"


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1:]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    if kind == 2:
        return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1:]


def _render_name(name: str, typo: float, rng: random.Random) -> str:
    if rng.random() < 0.1:
        name = name.upper()
    elif rng.random() < 0.05 and " " in name:
        first, rest = name.split(" ", 1)
        name = f"{rest}, {first}"
    return _typo(name, rng) if rng.random() < typo else name


ABBREVIATE = (("Road", "Rd"), ("Street", "St."), ("Avenue", "Ave"), ("Building", "Bldg"),
              ("Room", "Rm"), ("District", "Dist."), ("No. ", "No."))


def _render_address(address: str, typo: float, rng: random.Random) -> str:
    for long, short in ABBREVIATE:
        if rng.random() < 0.4:
            address = address.replace(long, short)
    parts = address.split(", ")
    if len(parts) > 3 and rng.random() < 0.25:
        # Senders drop the room or the province as they please.
        parts.pop(0 if rng.random() < 0.5 else -1)
    address = ", ".join(parts)
    return _typo(address, rng) if rng.random() < typo else address


class PhotoPool:
    """Listings of a photo manifest by class: genuine of any model, counterfeit by model."""

    def __init__(self, manifest: pd.DataFrame | None):
        self.genuine: list[tuple[str, str, str]] = []
        self.counterfeit: dict[str, list[tuple[str, str, str]]] = {}
        if manifest is None:
            return
        for (label, model, _listing), rows in manifest.groupby(["label", "model", "parcel_id"]):
            entry = (str(model), str(rows["brand"].iloc[0]), ";".join(rows["path"]))
            if label == "genuine":
                self.genuine.append(entry)
            elif label == "counterfeit":
                self.counterfeit.setdefault(str(model), []).append(entry)
        if not self.genuine or not self.counterfeit:
            raise ValueError("the photo manifest needs genuine and counterfeit listings with a model")

    @property
    def active(self) -> bool:
        return bool(self.genuine)

    def counterfeit_models(self) -> list[str]:
        return sorted(self.counterfeit) if self.active else sorted(CATALOGUE)

    def listing(self, label: str, model: str, rng: random.Random) -> tuple[str, str, str]:
        """(model, brand, photos) of one listing; without photos the sender's model, no paths."""
        if not self.active:
            return model, "adidas" if model.startswith("yeezy") else "nike", ""
        if label == "counterfeit":
            return rng.choice(self.counterfeit[model])
        return rng.choice(self.genuine)


def read_photos(spec: str) -> pd.DataFrame | None:
    """The manifest named by --photos ('none': no photos); a bad manifest is an error naming it."""
    if spec.lower() == "none":
        return None
    from infer.manifest import read_manifest

    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: photo manifest not found (pass --photos none to draw "
                                "parcels without photos, or experiments/cases/holdout_photos.py "
                                "to make one from a run's held-out listings)")
    manifest = read_manifest(path)
    if "model" not in manifest.columns:
        raise ValueError(f"{path}: the photo manifest needs a `model` column")
    return manifest[manifest["label"].isin(["genuine", "counterfeit"])]


def _genuine_sender(index: int, rng: random.Random) -> Sender:
    shop = rng.random() < SHOP_SHARE
    n = rng.randint(5, 40) if shop else rng.choices(GENUINE_SIZES, GENUINE_SIZE_P)[0]
    city = rng.choice(HUBS) if rng.random() < 0.4 else rng.choice(OTHER_CITIES)
    name = _company(city, rng) if shop or rng.random() < 0.3 else _person(rng)
    platform = rng.choice(PLATFORMS)
    destinations = tuple(DESTINATIONS) if shop or n > 1 else \
        tuple(rng.choices(DESTINATIONS, DEST_P, k=1))
    model = rng.choice(sorted(CATALOGUE))
    return Sender(
        seller_id=f"g{index:07d}", label="genuine", n=n, names=[name],
        addresses=[_address(city, rng)], phones=[_phone(rng)],
        accounts=[_account(name, rng)], platform=platform, city=city,
        destinations=destinations, window=(6.0, 22.0), model=model,
        style=rng.choice(CATALOGUE[model]))


def _account(name: str, rng: random.Random) -> str:
    stem = "".join(c for c in name.lower() if c.isalpha())[:10] if rng.random() < 0.5 else "store"
    return f"{stem}{rng.randint(1000, 999999)}"


def _seller(index: int, n: int, model: str, rng: random.Random) -> Sender:
    city = rng.choice(HUBS)
    aliases = [_person(rng) if rng.random() < 0.7 else _company(city, rng)
               for _ in range(rng.randint(5, 40))]
    strategy = ("phone", "account", "both")[index % 3]
    start = rng.uniform(0.0, 20.0)
    styles = CATALOGUE.get(model, ((None, "vietnam"),))
    return Sender(
        seller_id=f"c{index:03d}", label="counterfeit", n=n, names=aliases,
        addresses=[_address(city, rng) for _ in range(rng.randint(1, 3))],
        phones=[_phone(rng) for _ in range(rng.randint(1, 3))],
        accounts=[_account(rng.choice(aliases), rng) for _ in range(rng.randint(1, 2))],
        platform=rng.choice(PLATFORMS[:4]), city=city,
        destinations=tuple(rng.sample(DESTINATIONS[:8], rng.randint(2, 4))),
        window=(start, start + rng.uniform(2.0, 6.0)), model=model,
        style=rng.choice(styles), shares_phone=strategy != "account",
        shares_account=strategy != "phone")


def seller_sizes(parcels: int, sellers: int, share: float, rng: random.Random) -> list[int]:
    """Parcels per counterfeit seller: log-uniform over 30-400, scaled to `share` of the day."""
    total = round(parcels * share)
    if sellers <= 0 or total <= 0:
        return []
    raw = [np.exp(rng.uniform(np.log(30), np.log(400))) for _ in range(sellers)]
    sizes = [max(2, round(r * total / sum(raw))) for r in raw]
    sizes[-1] = max(2, sizes[-1] + total - sum(sizes))
    return sizes


def senders(parcels: int, sellers: int, share: float, pool: PhotoPool,
            rng: random.Random) -> list[Sender]:
    """The counterfeit sellers, then genuine senders until the day holds `parcels` parcels."""
    models = pool.counterfeit_models()
    made = [_seller(i, n, rng.choice(models), rng)
            for i, n in enumerate(seller_sizes(parcels, sellers, share, rng))]
    left = parcels - sum(s.n for s in made)
    index = 0
    while left > 0:
        sender = _genuine_sender(index, rng)
        sender.n = min(sender.n, left)
        made.append(sender)
        left -= sender.n
        index += 1
    return made


def _identity(sender: Sender, rng: random.Random) -> dict:
    """Who the parcel says sent it: a seller's rotating names, shared or fresh phone and account."""
    seller = sender.label == "counterfeit"
    phone = rng.choice(sender.phones)
    if seller and not (sender.shares_phone and rng.random() < SELLER_PHONE_SHARE):
        phone = _phone(rng)
    account = rng.choice(sender.accounts)
    if seller and not (sender.shares_account and rng.random() < SELLER_ACCOUNT_SHARE):
        account = _account(rng.choice(sender.names), rng)
    return {
        "sender_name": _render_name(rng.choice(sender.names),
                                    SELLER_NAME_TYPO if seller else NAME_TYPO, rng),
        "sender_address": _render_address(rng.choice(sender.addresses),
                                          SELLER_ADDRESS_TYPO if seller else ADDRESS_TYPO, rng),
        "sender_phone": _format_phone(phone, rng),
        "platform": sender.platform,
        "seller_account": account,
    }


def _parcel(sender: Sender, pool: PhotoPool, rng: random.Random) -> dict:
    seller = sender.label == "counterfeit"
    hours = rng.uniform(*sender.window)
    time = pd.Timestamp(DAY) + pd.Timedelta(minutes=round(hours * 60))
    model = sender.model if seller else rng.choice(sorted(CATALOGUE))
    model, brand, photos = pool.listing(sender.label, model, rng)
    style, made_in = sender.style if seller else \
        rng.choice(CATALOGUE.get(model, ((None, "china"),)))
    return {
        **_identity(sender, rng),
        "origin_city": sender.city,
        "dispatch_country": "CN",
        "dispatch_time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "destination_country": rng.choice(sender.destinations),
        "recipient_name": f"{rng.choice(RECIPIENT_FIRST)} {rng.choice(RECIPIENT_LAST)}",
        "declared_goods": rng.choice(SELLER_GOODS if seller else GENUINE_GOODS),
        "declared_value": round(rng.uniform(8, 30) if seller else rng.lognormvariate(4.6, 0.35), 2),
        "weight_g": rng.randint(900, 1400) if seller else rng.randint(700, 1800),
        "style_code": style, "made_in": f"made in {made_in}" if made_in else None,
        "brand": brand, "model": model, "label": sender.label, "seller_id": sender.seller_id,
        "photos": photos,
    }


def add_noise(day: pd.DataFrame, rng: random.Random) -> pd.DataFrame:
    """Blank fields at the MISSING rates and write malformed values at the MALFORMED rates."""
    gen = np.random.default_rng(rng.randrange(2**32))
    day = day.astype({c: object for c in (*MISSING, *MALFORMED)})
    for column, rate in MISSING.items():
        day.loc[gen.random(len(day)) < rate, column] = None
    bad = {"dispatch_time": ("2024-13-45 10:00", "yesterday", "14.05.24 25:61"),
           "weight_g": ("-950", "-1"), "declared_value": ("n/a", "12,50 EUR", "twenty")}
    for column, rate in MALFORMED.items():
        rows = np.flatnonzero(gen.random(len(day)) < rate)
        day.loc[day.index[rows], column] = [bad[column][i % len(bad[column])]
                                            for i in range(len(rows))]
    return day


def simulate_day(parcels: int, seed: int = 0, sellers: int | None = None,
                 counterfeit_share: float = 0.15, photos: pd.DataFrame | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """A day of `parcels` parcel records (COLUMNS, plus `photos` when a manifest is given)."""
    rng = random.Random(seed)
    pool = PhotoPool(photos)
    if sellers is None:
        sellers = max(1, round(rng.randint(5, 15) * parcels / 10_000))
    rows = []
    everyone = senders(parcels, sellers, counterfeit_share, pool, rng)
    for sender in tqdm(everyone, desc="senders", disable=not progress, mininterval=2):
        rows.extend(_parcel(sender, pool, rng) for _ in range(sender.n))
    rng.shuffle(rows)
    day = pd.DataFrame(rows)
    day.insert(0, "parcel_id", [f"P{DAY.replace('-', '')}-{i:07d}" for i in range(len(day))])
    day = add_noise(day, rng)
    return day[[*COLUMNS, "photos"]] if pool.active else day[list(COLUMNS)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.traffic", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--parcels", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sellers", type=int, default=None,
                        help="counterfeit sellers (default 5-15 per 10,000 parcels)")
    parser.add_argument("--counterfeit-share", type=float, default=0.15)
    parser.add_argument("--photos", default=DEFAULT_PHOTOS,
                        help="manifest (path,label,brand,parcel_id,model) or 'none'")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.parcels < 1 or not 0 <= args.counterfeit_share <= 1:
        parser.error("--parcels must be positive and --counterfeit-share within 0-1")
    try:
        photos = read_photos(args.photos)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    day = simulate_day(args.parcels, args.seed, args.sellers, args.counterfeit_share, photos,
                       progress=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    day.to_csv(out, index=False)
    counts = day.groupby("label")["seller_id"].nunique().to_dict()
    print(f"{out}: {len(day)} parcels, {counts.get('counterfeit', 0)} counterfeit sellers "
          f"({int((day['label'] == 'counterfeit').sum())} parcels), "
          f"{counts.get('genuine', 0)} genuine senders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
