"""Generate a labelled benchmark corpus: varied ~20-word sentences across 12 topics, seeded.

Every sentence is assembled here from small hand-written word pools (no copied text): a topic's
subjects, actions, objects and details, wrapped in topic-neutral openers and closers so that
sentences of one topic share structure with every other topic and only the topic words differ.

    python bench/corpus_gen.py --n 10000 --out corpus.csv   # a CSV the app can load
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Topic:
    """Word pools of one topic; actions are past-tense verb phrases that take an object."""

    subjects: tuple[str, ...]
    actions: tuple[str, ...]
    objects: tuple[str, ...]
    details: tuple[str, ...]


TOPICS: dict[str, Topic] = {
    "space": Topic(
        subjects=(
            "the mission controller",
            "a young astronaut",
            "the orbital crew",
            "the observatory team",
            "a retired rocket engineer",
            "the lunar rover",
            "the deep space probe",
            "an amateur astronomer",
        ),
        actions=("photographed", "tracked", "launched", "repaired", "docked with", "mapped"),
        objects=(
            "a faint distant galaxy",
            "the new cargo capsule",
            "the solar panel array",
            "a comet near Jupiter",
            "the heat shield tiles",
            "a crater on the far side",
            "the booster stage",
        ),
        details=(
            "in low Earth orbit",
            "through the big telescope",
            "after the countdown resumed",
            "near the space station",
            "during a long spacewalk",
            "above the launch pad",
        ),
    ),
    "cooking": Topic(
        subjects=(
            "the head chef",
            "my grandmother",
            "a nervous kitchen apprentice",
            "the pastry cook",
            "our neighbour who bakes",
            "the food truck owner",
            "a cooking show host",
        ),
        actions=("simmered", "seasoned", "kneaded", "roasted", "whisked", "glazed"),
        objects=(
            "a pot of tomato sauce",
            "the sourdough loaf",
            "a tray of garlic potatoes",
            "the chocolate batter",
            "a spicy lentil soup",
            "the lemon tart",
            "a pan of onions",
        ),
        details=(
            "in a cast iron skillet",
            "with fresh basil and butter",
            "at a very low heat",
            "before the oven was hot",
            "using an old family recipe",
            "with a pinch of sea salt",
        ),
    ),
    "football": Topic(
        subjects=(
            "the veteran striker",
            "the home goalkeeper",
            "a teenage midfielder",
            "the away team coach",
            "the league referee",
            "the club captain",
            "a substitute winger",
        ),
        actions=("blocked", "headed", "passed", "booked", "defended", "celebrated"),
        objects=(
            "a late penalty kick",
            "the corner from the left",
            "a long ball over the defence",
            "the equalising goal",
            "a free kick near the box",
            "the rival fans' chants",
            "a second yellow card",
        ),
        details=(
            "in the final minute of extra time",
            "in front of a packed stadium",
            "during the cup quarter final",
            "on a muddy pitch",
            "before the half time whistle",
            "against the league leaders",
        ),
    ),
    "finance": Topic(
        subjects=(
            "the central bank",
            "a cautious fund manager",
            "the quarterly report",
            "a small business owner",
            "the bond traders",
            "the company treasurer",
            "a pension adviser",
        ),
        actions=("raised", "hedged", "refinanced", "audited", "sold off", "forecast"),
        objects=(
            "the interest rate",
            "a portfolio of government bonds",
            "the mortgage on the warehouse",
            "the annual dividend",
            "a stake in the bank",
            "the inflation outlook",
            "the unpaid invoices",
        ),
        details=(
            "as the stock market slid",
            "before the earnings call",
            "despite the rising inflation",
            "at the end of the fiscal year",
            "while the currency weakened",
            "after a volatile trading session",
        ),
    ),
    "music": Topic(
        subjects=(
            "the lead guitarist",
            "a jazz drummer",
            "the church choir",
            "the festival headliner",
            "a shy songwriter",
            "the string quartet",
            "the session bassist",
        ),
        actions=("rehearsed", "recorded", "composed", "tuned", "improvised", "remixed"),
        objects=(
            "a slow ballad in a minor key",
            "the opening chord progression",
            "the new album's title track",
            "a melody for solo violin",
            "the encore at the concert",
            "the drum solo",
            "an old folk song",
        ),
        details=(
            "in a small recording studio",
            "on a borrowed acoustic guitar",
            "in front of a sold out hall",
            "with a brass section",
            "during the soundcheck",
            "at the summer music festival",
        ),
    ),
    "medicine": Topic(
        subjects=(
            "the night shift nurse",
            "a paediatric doctor",
            "the surgical team",
            "the village pharmacist",
            "a research clinician",
            "the emergency physician",
            "the hospital radiologist",
        ),
        actions=("diagnosed", "prescribed", "vaccinated", "monitored", "examined", "treated"),
        objects=(
            "a persistent fever",
            "the patient with a fractured wrist",
            "a higher dose of antibiotics",
            "the children against measles",
            "the irregular heartbeat",
            "a rash that would not fade",
            "the blood test results",
        ),
        details=(
            "in the intensive care unit",
            "at the rural clinic",
            "after a long night in the ward",
            "before the operation began",
            "during the flu season",
            "with a careful follow up plan",
        ),
    ),
    "weather": Topic(
        subjects=(
            "the weather forecaster",
            "a sudden thunderstorm",
            "the coastal flood warning",
            "the morning fog",
            "a cold front",
            "the meteorologists",
            "the heatwave",
        ),
        actions=("brought", "predicted", "measured", "delayed", "flooded", "covered"),
        objects=(
            "heavy rain and hail",
            "the lowest temperature in decades",
            "strong gusts of wind",
            "the harbour road",
            "a thick layer of snow",
            "the humidity levels",
            "the afternoon trains",
        ),
        details=(
            "along the northern coast",
            "across the whole valley",
            "before sunrise",
            "for the third day in a row",
            "as the barometer dropped",
            "under a grey overcast sky",
        ),
    ),
    "programming": Topic(
        subjects=(
            "the backend developer",
            "a junior programmer",
            "the code reviewer",
            "the database administrator",
            "our build server",
            "the open source maintainer",
            "the security engineer",
        ),
        actions=("refactored", "debugged", "deployed", "compiled", "profiled", "patched"),
        objects=(
            "a memory leak in the parser",
            "the slow database query",
            "the new API endpoint",
            "a race condition in the scheduler",
            "the Python test suite",
            "the broken login function",
            "a null pointer bug",
        ),
        details=(
            "on the staging server",
            "in the main branch",
            "before the release freeze",
            "with a few lines of Rust",
            "after the compiler upgrade",
            "in the continuous integration pipeline",
        ),
    ),
    "gardening": Topic(
        subjects=(
            "the allotment gardener",
            "my uncle with the greenhouse",
            "the park groundskeeper",
            "a beekeeper",
            "the community garden group",
            "the orchard owner",
            "a landscape designer",
        ),
        actions=("pruned", "planted", "watered", "composted", "harvested", "weeded"),
        objects=(
            "the climbing roses",
            "a row of seed potatoes",
            "the young apple trees",
            "the tomato seedlings",
            "a bed of tulip bulbs",
            "the overgrown hedge",
            "the herb border",
        ),
        details=(
            "in the raised vegetable beds",
            "after the last spring frost",
            "with well rotted manure",
            "behind the garden shed",
            "in the shade of the oak",
            "before the slugs came out",
        ),
    ),
    "travel": Topic(
        subjects=(
            "the backpackers",
            "a tour guide",
            "the airline passengers",
            "a travel blogger",
            "the hotel receptionist",
            "the ferry crew",
            "a family on holiday",
        ),
        actions=("booked", "missed", "explored", "rebooked", "checked in to", "photographed"),
        objects=(
            "the overnight train to the coast",
            "a cheap hostel near the old town",
            "the connecting flight",
            "the mountain villages",
            "a guided tour of the ruins",
            "the ferry to the islands",
            "the last bus to the airport",
        ),
        details=(
            "with only a carry on bag",
            "at the border crossing",
            "during the peak tourist season",
            "after the passport check",
            "on a tight travel budget",
            "with a crumpled paper map",
        ),
    ),
    "law": Topic(
        subjects=(
            "the defence lawyer",
            "the presiding judge",
            "a public prosecutor",
            "the appeals court",
            "the jury",
            "a tenant's solicitor",
            "the legal clerk",
        ),
        actions=("challenged", "dismissed", "appealed", "drafted", "cross examined", "upheld"),
        objects=(
            "the breach of contract claim",
            "a key witness",
            "the original verdict",
            "the custody agreement",
            "the patent infringement case",
            "a motion to suppress evidence",
            "the eviction notice",
        ),
        details=(
            "in the crowded courtroom",
            "before the statute of limitations ran out",
            "during a tense hearing",
            "under the new privacy law",
            "after weeks of deliberation",
            "with a signed affidavit",
        ),
    ),
    "education": Topic(
        subjects=(
            "the maths teacher",
            "a first year student",
            "the school principal",
            "the exam board",
            "a university lecturer",
            "the reading tutor",
            "the class of nine year olds",
        ),
        actions=("graded", "explained", "revised", "taught", "assigned", "rewrote"),
        objects=(
            "the algebra homework",
            "a lesson on fractions",
            "the final exam papers",
            "the history syllabus",
            "an essay on the water cycle",
            "the spelling test",
            "the chemistry lab report",
        ),
        details=(
            "in the school library",
            "before the end of term",
            "during the morning lecture",
            "with colourful flash cards",
            "for the parents' evening",
            "after the bell rang",
        ),
    ),
}

OPENERS = (
    "Last Tuesday",
    "Early this morning",
    "According to a short local report",
    "Late in the evening",
    "For the third time this month",
    "Just before the holidays",
    "After a long delay",
    "On a quiet afternoon",
    "Somewhat unexpectedly",
    "Two days ago",
    "Without much warning",
    "As the town had hoped",
    "Once again",
    "By all accounts",
)
CLOSERS = (
    "which surprised almost nobody",
    "and everyone talked about it afterwards",
    "according to people who were there",
    "despite a few complaints",
    "although nobody was quite sure why",
    "as the notes later confirmed",
    "and the results were mixed",
    "long before anyone noticed",
    "with surprisingly little fuss",
    "and it made the evening news",
    "so the plans changed again",
)
# Sentence shapes: {s}/{s2} subjects, {v}/{v2} actions, {o}/{o2} objects, {d} a detail.
TEMPLATES = (
    "{opener}, {s} {v} {o} {d}, {closer}.",
    "{S} {v} {o} {d}, and {s2} {v2} {o2}.",
    "{opener}, {s} {v} {o}; then {s2} {v2} {o2}.",
    "I heard that {s} {v} {o} {d}, {closer}.",
    "{S} {v} {o} {d} because {s2} {v2} {o2}.",
    "{opener}, {s} {v} {o} and {o2} {d}.",
)
MIXED = 0.3
_MAX_TRIES_PER_DOCUMENT = 50


def sentence(topic: Topic, second: Topic, rng: random.Random) -> str:
    """A random template: `topic` fills the main clause, `second` the second clause and detail."""
    s = rng.choice(topic.subjects)
    o = rng.choice(topic.objects)
    s2 = rng.choice([name for name in second.subjects if name != s])
    o2 = rng.choice([name for name in second.objects if name != o])
    return rng.choice(TEMPLATES).format(
        opener=rng.choice(OPENERS),
        closer=rng.choice(CLOSERS),
        s=s,
        S=s[0].upper() + s[1:],
        s2=s2,
        v=rng.choice(topic.actions),
        v2=rng.choice(second.actions),
        o=o,
        o2=o2,
        d=rng.choice(second.details),
    )


def generate_corpus(n: int, *, seed: int = 0) -> pd.DataFrame:
    """`n` distinct sentences with columns text and topic, topics balanced and shuffled.

    In a share `MIXED` of sentences the second clause and the detail come from another topic, so
    topics overlap as real ones do and a map's neighbour accuracy is not trivially 1.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}.")
    rng = random.Random(seed)
    names = list(TOPICS)
    labels = [names[i % len(names)] for i in range(n)]
    rng.shuffle(labels)
    seen: set[str] = set()
    texts = []
    for label in labels:
        for _ in range(_MAX_TRIES_PER_DOCUMENT):
            second = rng.choice(names) if rng.random() < MIXED else label
            text = sentence(TOPICS[label], TOPICS[second], rng)
            if text not in seen:
                break
        else:
            raise ValueError(f"Could not make {n} distinct sentences; ask for fewer.")
        seen.add(text)
        texts.append(text)
    return pd.DataFrame({"text": texts, "topic": labels})


def main() -> None:
    """Write a generated corpus to CSV, e.g. to load it in the app."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of sentences")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="CSV path to write")
    args = parser.parse_args()
    generate_corpus(args.n, seed=args.seed).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
