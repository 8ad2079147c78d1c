"""Benchmark corpus families: text the engine was not shaped for.

The project's own corpus (`codeperf.engine.corpus`, family `own`) is English prose
with short lists, the engine's easy case. Each family here stresses another path,
and the benchmarks and the Hypothesis twin tests draw from all of them:

- `multilingual`: Unicode-heavy answers: special case mappings (ß, İ, ǅ, ﬁ, final
  sigma), combining marks, Greek, Cyrillic, CJK, right-to-left scripts, emoji with
  joiners and skin tones;
- `code`: answers dominated by fenced code: long identifiers, punctuation-dense
  lines, little prose;
- `chat`: answers shaped like a chat model's Markdown: headings, nested and numbered
  lists, tables, bold, inline code, short paragraphs, mixed languages.

Every family is deterministic in (n, size_bytes, seed), shares its recommendation
pools across answers (so consensus and merging have real work), and gives answers
of at least `size_bytes` UTF-8 bytes.
"""

from __future__ import annotations

import random
from typing import Callable

from codeperf.engine import corpus
from codeperf.engine.models import ExpertResponse

# -- multilingual ----------------------------------------------------------------
# Recommendations in several scripts; each carries a case the engine's own case
# mapping leaves alone (ß, İ, ǅ, ﬁ ligature, Σ/ς) or a combining mark (e + U+0301).
ML_RECOMMENDATIONS = (
    "Verwenden Sie einen Verbindungspool für die Datenbank, das spart Größe und Zeit",
    "Utilisez un cache Redis devant la lecture: les requêtes répétées coûtent cher",
    "İstanbul ekibi için zaman aşımı değerlerini açıkça belirleyin",
    "Ǆemal predlaže ǅepni keš za čitanje i ǆunglu servisa",
    "Χρησιμοποιήστε επαναλήψεις με εκθετική αναμονή για τα σφάλματα ΔΙΚΤΥΟΥ",
    "Используйте пул соединений и ограничьте число одновременных запросов",
    "使用连接池并为每个外部调用设置超时，以免工作线程被阻塞",
    "キャッシュを読み取り経路の前に置き、繰り返しの要求を減らしてください",
    "استخدم ذاكرة تخزين مؤقت أمام قاعدة البيانات لتقليل زمن الاستجابة",
    "השתמשו במאגר חיבורים למסד הנתונים כדי להימנע מלחיצת יד בכל בקשה",
    "Le ﬁchier de conﬁguration doit ﬁxer les délais d'attente explicitement",
    "Cafe\u0301 de\u0301ja\u0300 vu: normalize\u0301 the ke\u0301ys before hashing them",
    "Streamen Sie Tokens an den Client 🚀 sobald sie ankommen, für geringere Latenz",
    "캐시를 읽기 경로 앞에 두고 반복 요청을 줄이세요",
    "Partitionnez l'index vectoriel par locataire 👩🏽\u200d💻 pour le garder en mémoire",
    "ΣΟΦΟΣ κανόνας: μετρήστε ξανά μετά από κάθε αλλαγή, όχι όλες μαζί",
)
ML_PROSE = (
    "Die Straße zur Lösung führt über Messungen, nicht über Vermutungen; STRASSE ist gleich.",
    "Ο σοφός μηχανικός μετρά πρώτα· ΟΔΟΣ και οδός είναι η ίδια λέξη με τελικό σίγμα.",
    "東京とサンフランシスコの間では、往復遅延が支配的です。",
    "В условиях нагрузки очередь растёт, и задержка растёт вместе с ней.",
    "إن زمن الاستجابة في الذيل أهم من المتوسط للمستخدمين التفاعليين.",
    "Ünïcödé tëxt wïth cömbïnïng märks: a\u0308 o\u0308 u\u0308 n\u0303 c\u0327 e\u0301.",
    "Emoji 👨‍👩‍👧‍👦 and flags 🇩🇪🇯🇵 and 🤔 are not words; ﬀ ﬂ ﬃ ligatures are.",
    "İ with a dot, ı without, ǅ titlecase, ß sharp s, ẞ capital sharp s.",
)


def multilingual_answer(rng: random.Random, size_bytes: int) -> str:
    parts = [rng.choice(ML_PROSE), ""]
    for k, rec in enumerate(rng.sample(ML_RECOMMENDATIONS, k=rng.randint(4, 8))):
        parts.append(f"{k + 1}. {rec}." if rng.random() < 0.5 else f"- {rec}.")
    parts += ["", rng.choice(ML_PROSE)]
    text = "\n".join(parts)
    while len(text.encode("utf-8")) < size_bytes:
        text += "\n\n" + " ".join(rng.choice(ML_PROSE) for _ in range(3))
    return text


# -- code -------------------------------------------------------------------------
CODE_BLOCKS = (
    ("rust", "impl<'a, T: AsRef<[u8]> + ?Sized> ConnectionPoolBuilderWithRetryPolicy<'a, T> {\n"
             "    pub fn max_in_flight_requests_per_upstream_expert(mut self, n: usize) -> Self {\n"
             "        self.limits.entry(&self.name).or_insert_with(|| Limit::new(n)).set(n); self\n"
             "    }\n}"),
    ("python", "async def fetch_with_exponential_backoff_and_jitter(session, url, *, retries=5):\n"
               "    for attempt in range(retries):\n"
               "        try:\n"
               "            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2**attempt)) as r:\n"
               "                return await r.json(loads=orjson.loads)\n"
               "        except (aiohttp.ClientError, asyncio.TimeoutError):\n"
               "            await asyncio.sleep(random.uniform(0, 2**attempt) * 0.1)"),
    ("typescript", "export const createRedisBackedReadThroughCache = <K extends string, V>(\n"
                   "  client: RedisClientType, ttlSeconds = 60,\n"
                   "): ((key: K, load: () => Promise<V>) => Promise<V>) => async (key, load) =>\n"
                   "  JSON.parse((await client.get(key)) ?? 'null') ?? (await load());"),
    ("sql", "SELECT e.expert_name, percentile_cont(0.95) WITHIN GROUP (ORDER BY q.latency_ms) AS p95\n"
            "FROM expert_queries q JOIN experts e ON e.id = q.expert_id\n"
            "WHERE q.created_at >= now() - interval '1 hour' GROUP BY 1 ORDER BY 2 DESC;"),
    ("cpp", "template <typename Key, typename Value, std::size_t kShards = 64>\n"
            "class ShardedLruCacheWithTtl final : public CacheInterface<Key, Value> {\n"
            "  std::array<std::pair<std::mutex, LruShard<Key, Value>>, kShards> shards_{};\n};"),
    ("yaml", "spec:\n  template:\n    spec:\n      containers:\n        - name: consensus-worker\n"
             "          resources: {limits: {cpu: \"2\", memory: 512Mi}, requests: {cpu: 500m}}"),
    ("bash", "for i in $(seq 1 32); do curl -fsS -o /dev/null -w '%{time_total}\\n' "
             "\"http://127.0.0.1:8080/v1/query?expert=${i}&timeout_ms=2500\"; done | sort -n | tail -2"),
)
CODE_RECOMMENDATIONS = (
    "Use `ConnectionPoolBuilderWithRetryPolicy::max_in_flight_requests_per_upstream_expert` to cap load",
    "Wrap every call in `fetch_with_exponential_backoff_and_jitter` with a total timeout",
    "Put `createRedisBackedReadThroughCache` in front of the read path with a 60 s TTL",
    "Query the p95 per expert with `percentile_cont(0.95)` instead of averaging latencies",
    "Shard the LRU cache (`ShardedLruCacheWithTtl<Key, Value, 64>`) to avoid lock contention",
    "Set CPU and memory limits on the `consensus-worker` container",
    "Measure with `curl -w '%{time_total}'` from the same host before and after each change",
    "Replace `json.loads` with `orjson.loads` in the hot path",
)


def code_answer(rng: random.Random, size_bytes: int) -> str:
    parts = ["Here is how I would change the code:", ""]
    for rec in rng.sample(CODE_RECOMMENDATIONS, k=rng.randint(3, 6)):
        parts.append(f"- {rec}.")
    text = "\n".join(parts)
    while len(text.encode("utf-8")) < size_bytes:
        lang, code = rng.choice(CODE_BLOCKS)
        text += f"\n\n```{lang}\n{code}\n```\n\n{rng.choice(corpus.FILLER)}"
    return text


# -- chat -------------------------------------------------------------------------
CHAT_HEADINGS = ("## Summary", "## Diagnosis", "### What to change", "## Next steps", "### Caveats",
                 "## TL;DR", "### Résumé en français", "## Zusammenfassung")
CHAT_POINTS = (
    "**Pool connections**: reuse database connections instead of opening one per request",
    "**Cache reads** in Redis; most reads repeat within a minute",
    "Set explicit `timeout` values on *every* outbound call",
    "Add retries with exponential backoff and jitter for transient `5xx` errors",
    "Stream tokens to the client as they arrive (lower perceived latency)",
    "Record latency **histograms**, not averages, so the tail is visible",
    "Cap in-flight requests per expert to protect rate-limited providers",
    "Utilisez un pool de connexions pour la base de données",
    "Verwenden Sie Zeitlimits für jeden ausgehenden Aufruf",
    "Batch embedding requests into groups of `32`",
)
CHAT_SUBPOINTS = ("e.g. `max_size=32`", "measure p95 and p99 before and after", "see the table below",
                  "*only* after profiling", "this is cheap to try", "par exemple 5 s", "z. B. 2 s")
CHAT_TABLE = ("| Change | Effort | Expected gain |\n| --- | --- | --- |\n"
              "| Connection pool | low | **-30 %** p95 |\n| Redis cache | medium | -50 % reads |\n"
              "| Streaming | low | first token in < 200 ms |")
CHAT_PARAGRAPHS = (
    "Great question! The short answer: it's mostly I/O.",
    "Let me break this down step by step.",
    "I'd start with the cheapest change and measure after each one.",
    "> **Note:** numbers depend heavily on whether the cache is warm.",
    "If you share a profile (`py-spy record -o out.svg`), I can be more specific.",
    "Hope this helps! 😊 Let me know if you want code for any of these.",
)


def chat_answer(rng: random.Random, size_bytes: int) -> str:
    parts = [rng.choice(CHAT_PARAGRAPHS), ""]
    while True:
        parts += [rng.choice(CHAT_HEADINGS), ""]
        numbered = rng.random() < 0.5
        for k, point in enumerate(rng.sample(CHAT_POINTS, k=rng.randint(3, 5))):
            parts.append(f"{k + 1}. {point}." if numbered else f"* {point}.")
            if rng.random() < 0.4:
                parts.append(f"   - {rng.choice(CHAT_SUBPOINTS)}")
        parts.append("")
        if rng.random() < 0.4:
            parts += [CHAT_TABLE, ""]
        parts += [rng.choice(CHAT_PARAGRAPHS), ""]
        text = "\n".join(parts).rstrip()
        if len(text.encode("utf-8")) >= size_bytes:
            return text


# -- the registry -----------------------------------------------------------------
Answer = Callable[[random.Random, int], str]
FAMILIES: dict[str, Answer] = {
    "own": corpus.answer,
    "multilingual": multilingual_answer,
    "code": code_answer,
    "chat": chat_answer,
}
# The family the quick benchmarks and the seed's targets use.
REFERENCE_FAMILY = "own"


def generate_family(family: str, n: int, size_bytes: int = 2048, seed: int = 0) -> list[ExpertResponse]:
    """`n` answers of the corpus `family`, deterministic in (family, n, size_bytes, seed).

    `own` gives exactly `corpus.generate_responses(n, size_bytes, seed)`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown corpus family {family!r}; use one of {', '.join(FAMILIES)}")
    if family == "own":
        return corpus.generate_responses(n, size_bytes, seed)
    return corpus.generate_responses(n, size_bytes, seed, answer=FAMILIES[family],
                                     stream=f"codeperf-corpus/{family}")
