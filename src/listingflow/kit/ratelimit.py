"""Shared call budgets for rate-limited APIs (LLM providers first): RPM, RPD, TPM and TPD.

One limiter for every process: `RedisRateLimiter` when a Redis URL is configured (all workers and
API replicas see one budget), `MemoryRateLimiter` otherwise (one process). Both run the same
algorithm, per budget key (one provider organisation and model):

- a sliding-window log per rule (requests or tokens over a minute or a day), checked and written
  for all rules at once, so a grant never pushes any window over its limit;
- pacing on the minute rules (GCRA: grants are spaced `window / limit` apart, weighted by tokens)
  so a bulk run flows at the budget's rate instead of bursting it at the top of each minute;
- corrections from the provider: its `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` headers
  (usage we did not see, e.g. another client on the same key) and `retry-after` on a 429.

Why not the `limits` library: its moving window checks one limit per call (RPM, then TPM, then
RPD as separate hits, so a refusal by the second leaves the first consumed, and test-then-hit
races between processes), stores a token-weighted hit as that many list entries (a 12,000-TPM
window is a 12,000-element list), stamps entries with each caller's clock, cannot wait, and has
no way to apply what the provider says remains. The Lua script below is the same sliding log,
checked for every rule atomically against the Redis server's clock.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import re
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import structlog

log = structlog.get_logger()

MINUTE = 60.0
DAY = 86_400.0


class RateLimitError(Exception):
    """A budget refuses the call; `retry_in` says when it could be granted (seconds)."""

    def __init__(self, message: str, *, retry_in: float, rule: str | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in
        self.rule = rule


class QuotaExhausted(RateLimitError):
    """A daily budget is spent and the caller chose not to wait for it to refill."""


class WaitTooLong(RateLimitError):
    """The wait for a grant would exceed the caller's `max_wait`."""


class RequestTooLarge(RateLimitError, ValueError):
    """One call needs more tokens than a whole window allows: it can never be granted."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One window of a budget, as the algorithm sees it."""

    name: str  # "rpm", "rpd", "tpm", "tpd"
    counts: Literal["requests", "tokens"]
    window: float  # seconds, safety margin included
    limit: int
    daily: bool
    paced: bool  # minute rules are paced; pacing a day budget would starve the minute
    tolerance: float  # pacing: how far ahead of schedule a grant may run (burst), seconds

    def weight(self, tokens: int) -> int:
        return tokens if self.counts == "tokens" else 1


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits for one key. `minute`/`day` can be shortened for tests (a 2-second "minute").

    `margin` widens every window a little: the provider counts arrivals, we count grants, and a
    request granted exactly one window after another may arrive a few milliseconds earlier
    relative to it. `burst` is how many requests may go back to back before pacing applies.
    `requests_header` says which window the provider's `x-ratelimit-*-requests` headers
    describe: the day on Groq, the minute on OpenAI.
    """

    rpm: int | None = 30
    rpd: int | None = 1_000
    tpm: int | None = 12_000
    tpd: int | None = None
    minute: float = MINUTE
    day: float = DAY
    burst: int = 1
    margin: float = 0.01
    requests_header: Literal["day", "minute"] = "day"

    def rules(self) -> tuple[Rule, ...]:
        minute = self.minute * (1 + self.margin)
        day = self.day * (1 + self.margin)
        tolerance = (max(self.burst, 1) - 1) * minute / self.rpm if self.rpm else 0.0
        specs: list[tuple[str, Literal["requests", "tokens"], int | None, float, bool]] = [
            ("rpm", "requests", self.rpm, minute, False),
            ("tpm", "tokens", self.tpm, minute, False),
            ("rpd", "requests", self.rpd, day, True),
            ("tpd", "tokens", self.tpd, day, True),
        ]
        return tuple(
            Rule(name, counts, window, limit, daily, not daily, 0.0 if daily else tolerance)
            for name, counts, limit, window, daily in specs
            if limit is not None
        )

    def header_rule(self, counts: Literal["requests", "tokens"]) -> str:
        if counts == "tokens":
            return "tpm"
        return "rpd" if self.requests_header == "day" else "rpm"


# Groq free tier at the time of writing (console.groq.com/settings/limits shows an account's own).
GROQ_FREE_TIER: Mapping[str, Budget] = {
    "llama-3.3-70b-versatile": Budget(rpm=30, rpd=1_000, tpm=12_000, tpd=100_000),
    "llama-3.1-8b-instant": Budget(rpm=30, rpd=14_400, tpm=6_000, tpd=500_000),
}


def default_budget(model: str) -> Budget:
    """The Groq free-tier budget for a known model, the 70b one otherwise (the strictest RPD)."""
    return GROQ_FREE_TIER.get(model, GROQ_FREE_TIER["llama-3.3-70b-versatile"])


_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?"
    r"(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+(?:\.\d+)?)ms)?$"
)


def parse_duration(value: str | None) -> float | None:
    """Seconds from a provider duration: `2m59.56s`, `7.66s`, `12ms`, `1h2m`, or plain `7.5`."""
    if value is None:
        return None
    text = value.strip().lower()
    if not text:
        return None
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    match = _DURATION.match(text)
    if match is None or not any(match.groupdict().values()):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return (
        parts.get("h", 0.0) * 3600
        + parts.get("m", 0.0) * 60
        + parts.get("s", 0.0)
        + parts.get("ms", 0.0) / 1000
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (fractions tolerated) or an HTTP date."""
    if value is None or not value.strip():
        return None
    seconds = parse_duration(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    """What a provider said about its own view of our budget, from one response's headers."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> ProviderLimits:
        h = {k.lower(): v for k, v in headers.items()}
        return cls(
            limit_requests=_int_or_none(h.get("x-ratelimit-limit-requests")),
            remaining_requests=_int_or_none(h.get("x-ratelimit-remaining-requests")),
            reset_requests=parse_duration(h.get("x-ratelimit-reset-requests")),
            limit_tokens=_int_or_none(h.get("x-ratelimit-limit-tokens")),
            remaining_tokens=_int_or_none(h.get("x-ratelimit-remaining-tokens")),
            reset_tokens=parse_duration(h.get("x-ratelimit-reset-tokens")),
            retry_after=parse_retry_after(h.get("retry-after")),
        )


@dataclass(frozen=True, slots=True)
class _Decision:
    granted: bool
    wait: float
    culprit: int  # 1-based rule index; 0 = the provider's retry-after gate
    now: float


@dataclass(frozen=True, slots=True)
class _Correction:
    rule: int  # 1-based rule index
    remaining: int
    reset: float | None


class RateLimiter(Protocol):
    async def acquire(
        self, key: str, *, tokens: int, wait_daily: bool = False, max_wait: float | None = None
    ) -> float: ...

    async def report(
        self,
        key: str,
        limits: ProviderLimits | Mapping[str, str],
        *,
        token_correction: int = 0,
    ) -> None: ...

    async def usage(self, key: str) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class _BaseLimiter:
    """The waiting loop and the header mapping; subclasses keep the state."""

    def __init__(
        self,
        *,
        budgets: Mapping[str, Budget] | None = None,
        default: Budget | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._budgets = dict(budgets or {})
        self._default = default or Budget()
        self._sleep = sleep

    def budget(self, key: str) -> Budget:
        return self._budgets.get(key, self._default)

    def set_budget(self, key: str, budget: Budget) -> None:
        self._budgets[key] = budget

    async def acquire(
        self, key: str, *, tokens: int, wait_daily: bool = False, max_wait: float | None = None
    ) -> float:
        """Wait until every rule of the key's budget allows one call of `tokens` tokens.

        Returns the grant time on the limiter's clock (Redis server time for Redis). Raises
        QuotaExhausted when a daily rule refuses and not `wait_daily`, WaitTooLong when the wait
        would pass `max_wait` seconds, RequestTooLarge when no window could ever hold the call.
        """
        if tokens < 0:
            raise ValueError("tokens must be >= 0")
        rules = self.budget(key).rules()
        for each in rules:
            if each.weight(tokens) > each.limit:
                raise RequestTooLarge(
                    f"{tokens} tokens exceed the {each.name} budget of {each.limit}",
                    retry_in=math.inf,
                    rule=each.name,
                )
        member = uuid.uuid4().hex
        waited = 0.0
        while True:
            decision = await self._try_acquire(key, rules, tokens, member)
            if decision.granted:
                return decision.now
            rule = rules[decision.culprit - 1] if decision.culprit > 0 else None
            name = rule.name if rule else "retry-after"
            if rule is not None and rule.daily and not wait_daily:
                raise QuotaExhausted(
                    f"daily budget {rule.name} of {key} is spent",
                    retry_in=decision.wait,
                    rule=rule.name,
                )
            if max_wait is not None and waited + decision.wait > max_wait:
                raise WaitTooLong(
                    f"{key} needs {decision.wait:.2f}s more for {name}",
                    retry_in=decision.wait,
                    rule=name,
                )
            # A little jitter so processes woken for the same slot do not retry in lockstep.
            delay = decision.wait + random.uniform(0, min(0.005, decision.wait))
            log.debug("ratelimit.wait", key=key, rule=name, seconds=round(delay, 3))
            await self._sleep(delay)
            waited += delay

    async def report(
        self,
        key: str,
        limits: ProviderLimits | Mapping[str, str],
        *,
        token_correction: int = 0,
    ) -> None:
        """Correct the view from a provider response.

        `limits` is the response's headers or their parsed form. Remaining counts lower than
        ours are booked as usage that expires when the provider says its window resets;
        `retry-after` closes the key for that long; `token_correction` (actual minus estimated
        tokens of the call) is booked on the token rules and today's counter.
        """
        if not isinstance(limits, ProviderLimits):
            limits = ProviderLimits.from_headers(limits)
        budget = self.budget(key)
        rules = budget.rules()
        index = {rule.name: i + 1 for i, rule in enumerate(rules)}
        corrections: list[_Correction] = []
        seen: list[tuple[str, int | None, float | None]] = [
            (budget.header_rule("requests"), limits.remaining_requests, limits.reset_requests),
            (budget.header_rule("tokens"), limits.remaining_tokens, limits.reset_tokens),
        ]
        for name, remaining, reset in seen:
            if remaining is not None and name in index:
                corrections.append(_Correction(index[name], max(remaining, 0), reset))
        gate = limits.retry_after or 0.0
        if corrections or gate > 0 or token_correction:
            await self._adjust(key, rules, corrections, gate, token_correction)

    async def _try_acquire(
        self, key: str, rules: tuple[Rule, ...], tokens: int, member: str
    ) -> _Decision:
        raise NotImplementedError

    async def _adjust(
        self,
        key: str,
        rules: tuple[Rule, ...],
        corrections: list[_Correction],
        gate: float,
        token_correction: int,
    ) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def _usage_dict(
    rules: tuple[Rule, ...], used: list[int], gate_wait: float, calls: int, tokens: int
) -> dict[str, Any]:
    return {
        "calls_today": calls,
        "tokens_today": tokens,
        "blocked_for": round(max(gate_wait, 0.0), 3),
        "budgets": {
            rule.name: {"used": u, "limit": rule.limit, "window_seconds": rule.window}
            for rule, u in zip(rules, used, strict=True)
        },
    }


# ---------------------------------------------------------------------------------- in-process


@dataclass
class _RuleState:
    log: deque[tuple[float, int]] = field(default_factory=deque)  # (time, weight), in time order
    used: int = 0
    tat: float = 0.0  # pacing: the theoretical time of the next grant


@dataclass
class _KeyState:
    rules: dict[str, _RuleState] = field(default_factory=dict)
    gate: float = 0.0
    days: dict[int, list[int]] = field(default_factory=dict)  # UTC day -> [calls, tokens]


class MemoryRateLimiter(_BaseLimiter):
    """The algorithm on local state: correct for one process (threads and event loops alike)."""

    def __init__(
        self,
        *,
        budgets: Mapping[str, Budget] | None = None,
        default: Budget | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(budgets=budgets, default=default, sleep=sleep)
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, _KeyState] = {}

    def _state(self, key: str, rule: Rule) -> _RuleState:
        return self._keys.setdefault(key, _KeyState()).rules.setdefault(rule.name, _RuleState())

    @staticmethod
    def _prune(state: _RuleState, now: float, window: float) -> None:
        cutoff = now - window
        while state.log and state.log[0][0] < cutoff:
            state.used -= state.log.popleft()[1]

    @staticmethod
    def _insert(state: _RuleState, at: float, weight: int) -> None:
        # Corrections may be back-dated (so they expire with the provider's window): keep order.
        if not state.log or state.log[-1][0] <= at:
            state.log.append((at, weight))
        else:
            items = sorted([*state.log, (at, weight)], key=lambda item: item[0])
            state.log = deque(items)
        state.used += weight

    async def _try_acquire(
        self, key: str, rules: tuple[Rule, ...], tokens: int, member: str
    ) -> _Decision:
        with self._lock:
            now = self._clock()
            keystate = self._keys.setdefault(key, _KeyState())
            wait, culprit = 0.0, 0
            if keystate.gate > now:
                wait = keystate.gate - now
            for i, rule in enumerate(rules, start=1):
                state = self._state(key, rule)
                self._prune(state, now, rule.window)
                weight = rule.weight(tokens)
                w = 0.0
                need = state.used + weight - rule.limit
                if need > 0:
                    freed = 0
                    for at, entry_weight in state.log:
                        freed += entry_weight
                        if freed >= need:
                            w = max(at + rule.window - now, 0.001)
                            break
                if rule.paced:
                    w = max(w, state.tat - rule.tolerance - now)
                if w > wait:
                    wait, culprit = w, i
            if wait > 0:
                return _Decision(False, wait, culprit, now)
            for rule in rules:
                state = self._state(key, rule)
                weight = rule.weight(tokens)
                if weight:
                    self._insert(state, now, weight)
                if rule.paced:
                    state.tat = max(state.tat, now) + weight * rule.window / rule.limit
            day = keystate.days.setdefault(int(now // DAY), [0, 0])
            day[0] += 1
            day[1] += tokens
            for old in [d for d in keystate.days if d < int(now // DAY) - 1]:
                del keystate.days[old]
            return _Decision(True, 0.0, 0, now)

    async def _adjust(
        self,
        key: str,
        rules: tuple[Rule, ...],
        corrections: list[_Correction],
        gate: float,
        token_correction: int,
    ) -> None:
        with self._lock:
            now = self._clock()
            keystate = self._keys.setdefault(key, _KeyState())
            if gate > 0:
                keystate.gate = max(keystate.gate, now + gate)
            for c in corrections:
                rule = rules[c.rule - 1]
                state = self._state(key, rule)
                self._prune(state, now, rule.window)
                deficit = (rule.limit - state.used) - c.remaining
                if deficit > 0:
                    # Back-date the entry so it leaves our window when the provider's resets.
                    reset = c.reset
                    at = (
                        now + reset - rule.window
                        if reset is not None and reset < rule.window
                        else now
                    )
                    self._insert(state, at, deficit)
            if token_correction > 0:
                for rule in rules:
                    if rule.counts == "tokens":
                        self._insert(self._state(key, rule), now, token_correction)
            if token_correction:
                day = keystate.days.setdefault(int(now // DAY), [0, 0])
                day[1] = max(day[1] + token_correction, 0)

    async def usage(self, key: str) -> dict[str, Any]:
        rules = self.budget(key).rules()
        with self._lock:
            now = self._clock()
            keystate = self._keys.setdefault(key, _KeyState())
            used = []
            for rule in rules:
                state = self._state(key, rule)
                self._prune(state, now, rule.window)
                used.append(state.used)
            calls, tokens = keystate.days.get(int(now // DAY), [0, 0])
            return _usage_dict(rules, used, keystate.gate - now, calls, tokens)


# ----------------------------------------------------------------------------------- Redis

# Shared helpers of the scripts. Log members are "<id>:<weight>"; each rule keeps its log (a
# sorted set scored by time), the running sum of the weights in it, and its pacing time.
_LUA_COMMON = """
local function weight_of(member)
  return tonumber(string.match(member, ':(%d+)$')) or 0
end

local function prune(log, used_key, now, window)
  local cutoff = '(' .. string.format('%.6f', now - window)
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  local used = tonumber(redis.call('GET', used_key) or '0')
  if #old > 0 then
    for _, m in ipairs(old) do used = used - weight_of(m) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
    if used < 0 then used = 0 end
    redis.call('SET', used_key, used, 'KEEPTTL')
  end
  return used
end

local function book(log, used_key, at, member, weight, window)
  redis.call('ZADD', log, string.format('%.6f', at), member .. ':' .. weight)
  redis.call('INCRBY', used_key, weight)
  local ttl = math.ceil(window * 1000) + 1000
  if redis.call('PTTL', log) < ttl then redis.call('PEXPIRE', log, ttl) end
  if redis.call('PTTL', used_key) < ttl then redis.call('PEXPIRE', used_key, ttl) end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local day = math.floor(now / 86400)
"""

# KEYS: gate, days, then per rule: log, used, tat.
# ARGV: tokens, member id, rule count, then per rule: counts (r|t), window, limit, paced, tolerance.
_ACQUIRE_LUA = (
    _LUA_COMMON
    + """
local tokens = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
local wait, culprit = 0, 0
local gate = tonumber(redis.call('GET', KEYS[1]) or '0')
if gate > now then wait = gate - now end
for i = 1, n do
  local a = 3 + (i - 1) * 5
  local weight = 1
  if ARGV[a + 1] == 't' then weight = tokens end
  local window, limit = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local log, used_key, tat_key = KEYS[3 * i], KEYS[3 * i + 1], KEYS[3 * i + 2]
  local used = prune(log, used_key, now, window)
  local w = 0
  local need = used + weight - limit
  if need > 0 then
    -- Walk the oldest entries until enough weight would have left the window.
    local freed, offset, found = 0, 0, false
    while not found do
      local batch = redis.call('ZRANGE', log, offset, offset + 99, 'WITHSCORES')
      if #batch == 0 then break end
      for j = 1, #batch, 2 do
        freed = freed + weight_of(batch[j])
        if freed >= need then
          w = math.max(tonumber(batch[j + 1]) + window - now, 0.001)
          found = true
          break
        end
      end
      offset = offset + 100
    end
    if not found then
      -- The running sum overstated the log (a key lost on its own): resynchronise, retry soon.
      redis.call('SET', used_key, freed, 'KEEPTTL')
      w = 0.001
    end
  end
  if ARGV[a + 4] == '1' then
    local pw = tonumber(redis.call('GET', tat_key) or '0') - tonumber(ARGV[a + 5]) - now
    if pw > w then w = pw end
  end
  if w > wait then wait, culprit = w, i end
end
if wait > 0 then
  return {0, string.format('%.6f', wait), culprit, string.format('%.6f', now)}
end
for i = 1, n do
  local a = 3 + (i - 1) * 5
  local weight = 1
  if ARGV[a + 1] == 't' then weight = tokens end
  local window, limit = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if weight > 0 then book(KEYS[3 * i], KEYS[3 * i + 1], now, ARGV[2], weight, window) end
  if ARGV[a + 4] == '1' then
    local tat_key = KEYS[3 * i + 2]
    local tat = math.max(tonumber(redis.call('GET', tat_key) or '0'), now)
    tat = tat + weight * window / limit
    redis.call('SET', tat_key, string.format('%.6f', tat), 'PX',
      math.ceil((tat - now + window) * 1000) + 1000)
  end
end
redis.call('HINCRBY', KEYS[2], 'calls:' .. day, 1)
redis.call('HINCRBY', KEYS[2], 'tokens:' .. day, tokens)
redis.call('HDEL', KEYS[2], 'calls:' .. (day - 2), 'tokens:' .. (day - 2))
redis.call('PEXPIRE', KEYS[2], 3 * 86400 * 1000)
return {1, '0', 0, string.format('%.6f', now)}
"""
)

# KEYS as for acquire. ARGV: gate seconds, token correction, member id, rule count, then per
# rule: counts, window, limit, remaining (-1: none), reset (-1: unknown).
_ADJUST_LUA = (
    _LUA_COMMON
    + """
local gate_for = tonumber(ARGV[1])
local correction = tonumber(ARGV[2])
local member = ARGV[3]
local n = tonumber(ARGV[4])
if gate_for > 0 then
  local gate = tonumber(redis.call('GET', KEYS[1]) or '0')
  if now + gate_for > gate then
    redis.call('SET', KEYS[1], string.format('%.6f', now + gate_for), 'PX',
      math.ceil(gate_for * 1000) + 1000)
  end
end
for i = 1, n do
  local a = 4 + (i - 1) * 5
  local window, limit = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local remaining, reset = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local log, used_key = KEYS[3 * i], KEYS[3 * i + 1]
  local used = prune(log, used_key, now, window)
  if remaining >= 0 then
    local deficit = (limit - used) - remaining
    if deficit > 0 then
      -- Back-date the entry so it leaves our window when the provider's resets.
      local at = now
      if reset >= 0 and reset < window then at = now + reset - window end
      book(log, used_key, at, member .. '-r' .. i, deficit, window)
    end
  end
  if ARGV[a + 1] == 't' and correction > 0 then
    book(log, used_key, now, member .. '-c' .. i, correction, window)
  end
end
if correction ~= 0 then
  local field = 'tokens:' .. day
  local value = redis.call('HINCRBY', KEYS[2], field, correction)
  if value < 0 then redis.call('HSET', KEYS[2], field, 0) end
end
return 1
"""
)

# KEYS as for acquire. ARGV: rule count, then per rule: window.
_USAGE_LUA = (
    _LUA_COMMON
    + """
local n = tonumber(ARGV[1])
local used = {}
for i = 1, n do
  used[i] = prune(KEYS[3 * i], KEYS[3 * i + 1], now, tonumber(ARGV[1 + i]))
end
local gate = tonumber(redis.call('GET', KEYS[1]) or '0')
local calls = tonumber(redis.call('HGET', KEYS[2], 'calls:' .. day) or '0')
local tokens = tonumber(redis.call('HGET', KEYS[2], 'tokens:' .. day) or '0')
return {used, string.format('%.6f', gate - now), calls, tokens}
"""
)


class _RedisHandle:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.acquire = client.register_script(_ACQUIRE_LUA)
        self.adjust = client.register_script(_ADJUST_LUA)
        self.usage = client.register_script(_USAGE_LUA)


class RedisRateLimiter(_BaseLimiter):
    """The algorithm in Lua on Redis: one budget for every process that uses the same Redis.

    All keys of one budget key share a hash tag, so the scripts also run on Redis Cluster.
    A redis-py asyncio client is bound to the event loop that created it, so one is kept per
    loop (a worker thread with its own loop gets its own connection pool).
    """

    def __init__(
        self,
        url: str,
        *,
        budgets: Mapping[str, Budget] | None = None,
        default: Budget | None = None,
        prefix: str = "lf:rl",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(budgets=budgets, default=default, sleep=sleep)
        self._url = url
        self._prefix = prefix
        self._handles: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RedisHandle] = (
            weakref.WeakKeyDictionary()
        )

    def _handle(self) -> _RedisHandle:
        loop = asyncio.get_running_loop()
        handle = self._handles.get(loop)
        if handle is None:
            from redis.asyncio import Redis  # only deployments with Redis need the package

            handle = _RedisHandle(Redis.from_url(self._url, decode_responses=True))
            self._handles[loop] = handle
        return handle

    def _keys(self, key: str, rules: tuple[Rule, ...]) -> list[str]:
        base = f"{self._prefix}:{{{key}}}"
        keys = [f"{base}:gate", f"{base}:days"]
        for rule in rules:
            keys += [
                f"{base}:{rule.name}:log",
                f"{base}:{rule.name}:used",
                f"{base}:{rule.name}:tat",
            ]
        return keys

    async def _try_acquire(
        self, key: str, rules: tuple[Rule, ...], tokens: int, member: str
    ) -> _Decision:
        args: list[Any] = [tokens, member, len(rules)]
        for rule in rules:
            args += [
                "t" if rule.counts == "tokens" else "r",
                repr(rule.window),
                rule.limit,
                1 if rule.paced else 0,
                repr(rule.tolerance),
            ]
        granted, wait, culprit, now = await self._handle().acquire(
            keys=self._keys(key, rules), args=args
        )
        return _Decision(bool(int(granted)), float(wait), int(culprit), float(now))

    async def _adjust(
        self,
        key: str,
        rules: tuple[Rule, ...],
        corrections: list[_Correction],
        gate: float,
        token_correction: int,
    ) -> None:
        by_rule = {c.rule: c for c in corrections}
        args: list[Any] = [repr(gate), token_correction, uuid.uuid4().hex, len(rules)]
        for i, rule in enumerate(rules, start=1):
            c = by_rule.get(i)
            reset = c.reset if c is not None and c.reset is not None else -1.0
            args += [
                "t" if rule.counts == "tokens" else "r",
                repr(rule.window),
                rule.limit,
                c.remaining if c is not None else -1,
                repr(reset),
            ]
        await self._handle().adjust(keys=self._keys(key, rules), args=args)

    async def usage(self, key: str) -> dict[str, Any]:
        rules = self.budget(key).rules()
        args: list[Any] = [len(rules), *(repr(rule.window) for rule in rules)]
        used, gate_wait, calls, tokens = await self._handle().usage(
            keys=self._keys(key, rules), args=args
        )
        return _usage_dict(rules, [int(u) for u in used], float(gate_wait), int(calls), int(tokens))

    async def clear(self, key: str) -> None:
        """Forget a key's usage (tests, or an operator resetting after a plan change)."""
        await self._handle().client.delete(*self._keys(key, self.budget(key).rules()))

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        handle = self._handles.pop(loop, None)
        if handle is not None:
            await handle.client.aclose()


def create_rate_limiter(
    redis_url: str | None,
    *,
    budgets: Mapping[str, Budget] | None = None,
    default: Budget | None = None,
) -> RateLimiter:
    """Redis when a URL is configured (shared by every process), in-process otherwise."""
    if redis_url:
        return RedisRateLimiter(redis_url, budgets=budgets, default=default)
    return MemoryRateLimiter(budgets=budgets, default=default)
