"""A small sentiment set written for this book: short, unambiguous reviews of films, food,
products and places, labelled negative or positive. The demonstration pool (8 per label) and the
test set (20 per label) do not overlap. It lives in code, not in a data file, so that a
non-editable install of the package carries it.
"""
from __future__ import annotations

from dataclasses import dataclass

LABELS = ("negative", "positive")


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # one of LABELS


def _examples(rows: str) -> tuple[Example, ...]:
    out = []
    for line in rows.strip().splitlines():
        label, text = line.split("\t")
        out.append(Example(text.strip(), label.strip()))
    return tuple(out)


# Demonstrations are drawn only from this pool (8 per label).
DEMO_POOL = _examples("""
positive\tThe film was a joy from start to finish.
positive\tGreat coffee and very friendly staff.
positive\tThis phone battery lasts for days.
positive\tThe hotel room was clean and quiet.
positive\tI loved every song on this album.
positive\tThe teacher explains things clearly and patiently.
positive\tOur guide was funny and knew everything.
positive\tThe soup was hot, fresh and delicious.
negative\tThe movie was boring and far too long.
negative\tThe waiter ignored us for an hour.
negative\tMy new headphones broke after two days.
negative\tThe train was dirty and late again.
negative\tThis book is dull and badly written.
negative\tThe pizza arrived cold and soggy.
negative\tCustomer support never answered my emails.
negative\tThe room smelled of smoke and mould.
""")

# The test set: 20 positive and 20 negative sentences, none of them in DEMO_POOL.
TEST_SET = _examples("""
positive\tA beautiful story with wonderful actors.
positive\tThe cake was soft and tasted amazing.
positive\tThis laptop is fast and light.
positive\tThe concert was the best night of my year.
positive\tThe nurses were kind and caring.
positive\tI would happily stay here again.
positive\tThe shoes are comfortable and look great.
positive\tA clever, funny and moving film.
positive\tThe app is simple and works perfectly.
positive\tOur holiday was relaxing and fun.
positive\tShe gave a brilliant performance.
positive\tThe museum was fascinating and well organised.
positive\tDelivery was quick and the box was perfect.
positive\tThis game is exciting and easy to learn.
positive\tThe curry was rich and full of flavour.
positive\tMy kids adored the new playground.
positive\tThe lecture was inspiring and clear.
positive\tThe repair was done fast and well.
positive\tI enjoyed every page of this novel.
positive\tThe view from the hill was stunning.
negative\tThe plot made no sense at all.
negative\tThe chicken was dry and tasteless.
negative\tThis printer jams on every page.
negative\tThe show was loud, messy and dull.
negative\tThe staff were rude and unhelpful.
negative\tI will never buy from them again.
negative\tThe chair broke in the first week.
negative\tA slow and painful film to watch.
negative\tThe update made the app crash constantly.
negative\tOur flight was cancelled without warning.
negative\tThe acting was wooden and awkward.
negative\tThe shop was crowded and overpriced.
negative\tThe parcel arrived damaged and late.
negative\tThis game is frustrating and unfair.
negative\tThe noodles were greasy and bland.
negative\tMy order was wrong twice.
negative\tThe lesson was confusing and rushed.
negative\tThe plumber left a huge mess.
negative\tI regret reading this awful novel.
negative\tThe park was noisy and unsafe at night.
""")
