"""Deterministic car-rental sample data: vehicles, locations, users and rental transactions.

    python sample_data/generate.py                 # rewrites sample_data/car_rental/ (the committed set)
    python sample_data/generate.py --rows 1000000 --out /tmp/big   # a larger volume, same seed
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

CITIES = [("Seattle", "WA"), ("Portland", "OR"), ("Denver", "CO"), ("Austin", "TX"), ("Boston", "MA"),
          ("Chicago", "IL"), ("Miami", "FL"), ("Phoenix", "AZ")]
MAKES = [("Toyota", ["Corolla", "RAV4", "Camry"]), ("Ford", ["Focus", "Escape", "F-150"]),
         ("Tesla", ["Model 3", "Model Y"]), ("Honda", ["Civic", "CR-V"])]
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kim", "Lea"]
LAST = ["Ng", "Smith", "Garcia", "Okafor", "Ivanova", "Chen", "Brown", "Silva"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def generate(out: Path, rentals: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    locations = [[i + 1, city, state] for i, (city, state) in enumerate(CITIES)]
    vehicles = []
    for i in range(max(20, rentals // 50)):
        make, models = MAKES[i % len(MAKES)]
        vehicles.append([f"V{i + 1:05d}", make, rng.choice(models), rng.randint(2015, 2024),
                         rng.randint(1, len(locations))])
    users = []
    for i in range(max(30, rentals // 20)):
        signup = datetime(2022, 1, 1) + timedelta(days=rng.randint(0, 700))
        users.append([f"U{i + 1:05d}", f"{rng.choice(FIRST)} {rng.choice(LAST)}", signup.date().isoformat(),
                      rng.choice(CITIES)[1]])
    transactions = []
    for i in range(rentals):
        start = datetime(2024, 1, 1) + timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        hours = rng.randint(2, 120)
        vehicle = rng.choice(vehicles)
        pickup = vehicle[4]
        dropoff = pickup if rng.random() < 0.8 else rng.randint(1, len(locations))
        amount = round(hours * rng.uniform(4.5, 12.0), 2)
        transactions.append([f"R{i + 1:07d}", rng.choice(users)[0], vehicle[0], pickup, dropoff,
                             start.isoformat(sep=" "), (start + timedelta(hours=hours)).isoformat(sep=" "), amount])
    _write(out / "locations" / "locations.csv", ["location_id", "city", "state"], locations)
    _write(out / "vehicles" / "vehicles.csv", ["vehicle_id", "make", "model", "year", "location_id"], vehicles)
    _write(out / "users" / "users.csv", ["user_id", "name", "signup_date", "state"], users)
    _write(out / "rental_transactions" / "rental_transactions.csv",
           ["rental_id", "user_id", "vehicle_id", "pickup_location_id", "dropoff_location_id", "start_time",
            "end_time", "total_amount"], transactions)


def generate_customers(out: Path, count: int, seed: int = 7) -> None:
    """Customers with near-duplicates: the same person re-registered with e-mail or phone variants."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}{i}@{rng.choice(['gmail.com', 'example.com'])}"
        phone = f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        created = datetime(2023, 1, 1) + timedelta(days=rng.randint(0, 400))
        rows.append([f"C{len(rows) + 1:05d}", name, email, phone, created.date().isoformat()])
        if rng.random() < 0.25:  # a later duplicate: same e-mail up to case/dots/+tag, or same name and phone
            later = (created + timedelta(days=rng.randint(1, 30))).date().isoformat()
            if rng.random() < 0.5:
                local, domain = email.split("@")
                variant = (local.replace(".", "") + "+promo@" + domain) if domain == "gmail.com" else email.upper()
                rows.append([f"C{len(rows) + 1:05d}", name, variant, phone, later])
            else:
                rows.append([f"C{len(rows) + 1:05d}", name.upper(), f"other{i}@example.com",
                             phone.replace("-", " "), later])
    _write(out / "customers.csv", ["customer_id", "name", "email", "phone", "created_at"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400, help="rental transactions (default 400)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("car_rental"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.out, args.rows, args.seed)
    generate_customers(args.out.parent / "customers", max(40, args.rows // 10), args.seed)
    print(f"wrote {args.rows} rentals under {args.out} and customers beside it")


if __name__ == "__main__":
    main()
