"""The scaling guide's growth stages and capacity table as data, and the stage picker (pure).

A stage's range is read as the guide writes it: MVP below 100 users/day and below 1,000
products/month; Startup 100-1,000 and 1K-10K (both ends included); Growth, Scale the same;
Enterprise above 100K users/day or above 1M products/month. The stage is the higher of the two
measures' stages: the installation must carry its busiest dimension.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    users_per_day: str
    products_per_month: str
    monthly_cost: str
    infrastructure: str
    users_above: int  # the stage starts when users/day exceed this (MVP: -1)
    products_above: int


# The guide's table, "Growth Stages". A stage starts above the previous stage's upper bound.
STAGES: tuple[Stage, ...] = (
    Stage("MVP", "<100", "<1,000", "$0-10", "Free tiers", -1, -1),
    Stage("Startup", "100-1,000", "1K-10K", "$65-100", "Railway+Vercel+Supabase", 99, 999),
    Stage(
        "Growth",
        "1K-10K",
        "10K-100K",
        "$150-300",
        "2-3 instances + read replicas",
        1_000,
        10_000,
    ),
    Stage(
        "Scale",
        "10K-100K",
        "100K-1M",
        "$500-1,000",
        "Auto-scaling, multi-region",
        10_000,
        100_000,
    ),
    Stage("Enterprise", ">100K", ">1M", "$1,000+", "Dedicated infrastructure", 100_000, 1_000_000),
)


@dataclass(frozen=True, slots=True)
class Activity:
    users_per_day: int
    products_per_month: int
    optimizations_per_day: int


@dataclass(frozen=True, slots=True)
class StageReport:
    stage: Stage
    by_users: Stage
    by_products: Stage
    next_stage: Stage | None
    next_trigger: str


def stage_for_users(users_per_day: int) -> Stage:
    return [s for s in STAGES if users_per_day > s.users_above][-1]


def stage_for_products(products_per_month: int) -> Stage:
    return [s for s in STAGES if products_per_month > s.products_above][-1]


def pick_stage(activity: Activity) -> StageReport:
    by_users = stage_for_users(activity.users_per_day)
    by_products = stage_for_products(activity.products_per_month)
    stage = max(by_users, by_products, key=STAGES.index)
    index = STAGES.index(stage)
    following = STAGES[index + 1] if index + 1 < len(STAGES) else None
    if following is None:
        trigger = "the last stage: dedicated infrastructure, sized by measurement"
    else:
        trigger = (
            f"{following.name} from {following.users_above + 1:,} users/day or "
            f"{following.products_above + 1:,} products/month (now {activity.users_per_day:,} "
            f"and {activity.products_per_month:,})"
        )
    return StageReport(stage, by_users, by_products, following, trigger)


@dataclass(frozen=True, slots=True)
class CapacityRow:
    plan: str
    requests_per_minute: int
    db_queries_per_second: int
    optimizations_per_minute: int
    concurrent_users: int


# The guide's "Capacity Planning".
CAPACITY: tuple[CapacityRow, ...] = (
    CapacityRow("Current (free tier)", 1_000, 50, 10, 50),
    CapacityRow("After optimization (same cost)", 5_000, 200, 10, 200),
    CapacityRow("Growth plan ($150/month)", 20_000, 500, 30, 1_000),
)

# The guide's own ratio (1,000 requests/minute carry about 50 concurrent users): one request
# every 3 seconds per user. `listingflow capacity` turns measured requests into users with it.
SECONDS_PER_USER_REQUEST = 3.0
