-- The DuckDB floor: the platform's transforms hand-written as one SQL script over the same
-- landing CSVs, as fast as DuckDB runs them (lakehouse/transforms/*.py and contracts/*.py are
-- the specification; bench/FINDINGS.md phase 6 has the profile this layout comes from).
--
-- The runner sets `landing` (the landing folder) with SET VARIABLE and runs floor_common.sql
-- (session, macros, the table of UTC offsets) before this.
-- Results: tables mart_ontime_daily, mart_routes, mart_delay_weather and fact_fingerprint.
--
-- What it does, as the platform does: type every field (a row with a value that does not
-- parse, or a line that does not split into the header's fields, is rejected, not the file),
-- drop rows with staging errors or contract breaks (reference tables included), keep the last
-- delivery of each business key, build UTC departures, resolve arrival days and arrival UTC in
-- the destination's zone, key flights to airlines, airports and the plane listed on the flight
-- date, and aggregate the three marts.
-- What it does not do: write a raw or staged copy, lineage columns, quarantine records,
-- metadata or per-day reconciliation; that is what the platform adds on top of the floor.
-- Where DuckDB's reader parses differently from the platform's (Polars): it takes `1.5`, `1e3`
-- or `0x10` as integers where Polars rejects the row, and rejects a padded null token (` NA`) in
-- a number where Polars reads null; flights and weather are read without quoting, so a field
-- delivered in quotes keeps them (and fails its type or rule) where the platform unquotes it.
-- The landing files have none of these.

-- Reference tables (transforms/reference.py, airlines.py; contracts/reference.py): typed, the
-- contract kept; airlines and airports from the newest snapshot with a valid row, the last line
-- per key; planes from every snapshot. A table's rowid is its delivery order: the reader keeps
-- files in name order and lines in file order, and so does CREATE TABLE AS.
CREATE TEMP TABLE delivered_airlines AS
SELECT nz(carrier) AS carrier, nz(name) AS name, file_day(filename) AS snapshot_date
FROM read_csv(getvariable('landing') || '/airlines/*.csv', header = true, filename = true,
    ignore_errors = true, columns = {'carrier': 'VARCHAR', 'name': 'VARCHAR'});
CREATE TEMP TABLE airlines AS
WITH valid AS (
    SELECT rowid AS line, * FROM delivered_airlines
    WHERE carrier IS NOT NULL AND name IS NOT NULL AND length(carrier) = 2
)
SELECT carrier, name FROM valid
WHERE snapshot_date = (SELECT max(snapshot_date) FROM valid)
QUALIFY row_number() OVER (PARTITION BY carrier ORDER BY line DESC) = 1;

CREATE TEMP TABLE delivered_airports AS
SELECT * EXCLUDE (filename) REPLACE (nz(faa) AS faa, nz(name) AS name, nz(dst) AS dst,
    nz(tzone) AS tzone), file_day(filename) AS snapshot_date
FROM read_csv(getvariable('landing') || '/airports/*.csv', header = true, filename = true,
    nullstr = ['NA', ''], ignore_errors = true, columns = {
        'faa': 'VARCHAR', 'name': 'VARCHAR', 'lat': 'DOUBLE', 'lon': 'DOUBLE', 'alt': 'INTEGER',
        'tz': 'TINYINT', 'dst': 'VARCHAR', 'tzone': 'VARCHAR'});
CREATE TEMP TABLE airports AS
WITH valid AS (
    SELECT rowid AS line, * FROM delivered_airports
    WHERE faa IS NOT NULL AND lat IS NOT NULL AND lon IS NOT NULL
      AND (tzone IS NULL OR tzone IN (SELECT name FROM pg_timezone_names()))
      AND length(faa) BETWEEN 3 AND 4 AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180
      AND coalesce(alt BETWEEN -1500 AND 30000, true) AND coalesce(tz BETWEEN -12 AND 14, true)
      AND coalesce(dst IN ('A', 'U', 'N'), true)
)
SELECT faa, name, tzone FROM valid
WHERE snapshot_date = (SELECT max(snapshot_date) FROM valid)
QUALIFY row_number() OVER (PARTITION BY faa ORDER BY line DESC) = 1;

-- A plane is known on a day when the newest planes snapshot on or before it lists it (the same
-- answer as the platform's SCD2 dimension): one row per listing, valid until the next snapshot.
CREATE TEMP TABLE delivered_planes AS
SELECT * EXCLUDE (filename) REPLACE (nz(tailnum) AS tailnum), file_day(filename) AS snapshot_date
FROM read_csv(getvariable('landing') || '/planes/*.csv', header = true, filename = true,
    nullstr = ['NA', ''], ignore_errors = true, columns = {
        'tailnum': 'VARCHAR', 'year': 'SMALLINT', 'type': 'VARCHAR', 'manufacturer': 'VARCHAR',
        'model': 'VARCHAR', 'engines': 'TINYINT', 'seats': 'SMALLINT', 'speed': 'SMALLINT',
        'engine': 'VARCHAR'});
CREATE TEMP TABLE plane_listings AS
WITH listed AS (
    SELECT DISTINCT tailnum, snapshot_date FROM delivered_planes
    WHERE tailnum IS NOT NULL
      AND coalesce(year BETWEEN 1900 AND 2013, true) AND coalesce(engines BETWEEN 1 AND 8, true)
      AND coalesce(seats BETWEEN 1 AND 1000, true) AND coalesce(speed BETWEEN 1 AND 1000, true)
), snapshots AS (
    SELECT snapshot_date,
        coalesce(lead(snapshot_date) OVER (ORDER BY snapshot_date), DATE '9999-12-31')
            AS next_snapshot
    FROM (SELECT DISTINCT snapshot_date FROM listed)
)
SELECT tailnum, snapshot_date AS valid_from, next_snapshot AS valid_to
FROM listed JOIN snapshots USING (snapshot_date);

-- Flights as delivered, typed by the reader: every column is read, so a value that does not
-- parse rejects its row (hour and minute, which nothing uses, are kept so that the reader
-- parses them: the platform types them too). Text is trimmed once, here. Rows with a staging error or breaking a contract rule on their numbers are dropped
-- here: a required number missing, a clock that is not hhmm, a row not dated its file's day
-- (flight_date is then the file's day: no date is built per row). The rules on text are
-- checked in `fct_flights`, on the stored text: a filter on a trimmed value here would trim
-- again for every rule (DuckDB pushes the filter below the trim and repeats it).
CREATE TEMP TABLE clean_flights AS
WITH delivered AS (
    SELECT * EXCLUDE (filename) REPLACE (nz(carrier) AS carrier, nz(tailnum) AS tailnum,
        nz(origin) AS origin, nz(dest) AS dest), file_day(filename) AS flight_date
    FROM read_csv(getvariable('landing') || '/flights/*.csv', header = true, filename = true,
        -- The dialect is known: no sniffing of each of the 365 files. Nothing in these feeds
        -- is quoted (codes and numbers), so a quote is an ordinary character: a stray one
        -- costs its own row (its field fails its type or rule, as in the platform), where a
        -- quoting reader would take the rest of the file for one field.
        auto_detect = false, delim = ',', quote = '', escape = '',
        nullstr = ['NA', ''], ignore_errors = true, timestampformat = '%Y-%m-%dT%H:%M:%SZ',
        columns = {
            'year': 'SMALLINT', 'month': 'TINYINT', 'day': 'TINYINT',
            'dep_time': 'SMALLINT', 'sched_dep_time': 'SMALLINT', 'dep_delay': 'SMALLINT',
            'arr_time': 'SMALLINT', 'sched_arr_time': 'SMALLINT', 'arr_delay': 'SMALLINT',
            'carrier': 'VARCHAR', 'flight': 'INTEGER', 'tailnum': 'VARCHAR',
            'origin': 'VARCHAR', 'dest': 'VARCHAR', 'air_time': 'SMALLINT',
            'distance': 'SMALLINT', 'hour': 'TINYINT', 'minute': 'TINYINT',
            'time_hour': 'TIMESTAMP'})
)
SELECT * EXCLUDE (year, month, day, air_time) FROM delivered
WHERE year = year(flight_date) AND month = month(flight_date) AND day = day(flight_date)
  AND flight IS NOT NULL AND sched_dep_time IS NOT NULL AND sched_arr_time IS NOT NULL
  AND distance IS NOT NULL AND time_hour IS NOT NULL
  AND NOT coalesce(bad_hhmm(sched_dep_time), false)
  AND NOT coalesce(bad_hhmm(dep_time), false)
  AND NOT coalesce(bad_hhmm(sched_arr_time), false)
  AND NOT coalesce(bad_hhmm(arr_time), false)
  AND flight > 0 AND coalesce(air_time > 0, true) AND distance > 0
  AND coalesce(dep_delay BETWEEN -2880 AND 2880, true)
  AND coalesce(arr_delay BETWEEN -2880 AND 2880, true)
  -- a cancelled flight has no arrival
  AND (dep_time IS NOT NULL OR (arr_time IS NULL AND arr_delay IS NULL));

-- Weather (transforms/weather.py, contracts/weather.py), 1x at every scale: the last delivery of
-- each (origin, UTC hour) among valid observations.
CREATE TEMP TABLE delivered_weather AS
SELECT * EXCLUDE (filename) REPLACE (nz(origin) AS origin), file_day(filename) AS delivered_for
FROM read_csv(getvariable('landing') || '/weather/*.csv', header = true, filename = true,
    auto_detect = false, delim = ',', quote = '', escape = '',
    nullstr = ['NA', ''], ignore_errors = true, timestampformat = '%Y-%m-%dT%H:%M:%SZ',
    columns = {
        'origin': 'VARCHAR', 'year': 'SMALLINT', 'month': 'TINYINT', 'day': 'TINYINT',
        'hour': 'TINYINT', 'temp': 'DOUBLE', 'dewp': 'DOUBLE', 'humid': 'DOUBLE',
        'wind_dir': 'SMALLINT', 'wind_speed': 'DOUBLE', 'wind_gust': 'DOUBLE',
        'precip': 'DOUBLE', 'pressure': 'DOUBLE', 'visib': 'DOUBLE', 'time_hour': 'TIMESTAMP'});
CREATE TEMP TABLE weather AS
WITH dated AS (
    SELECT rowid AS line, *, TRY(make_date(year, month, day)) AS weather_date,
        -- ICU once per observation (UTC to local is unambiguous): 26,000 rows
        timezone('America/New_York', time_hour::TIMESTAMPTZ) AS obs_local
    FROM delivered_weather
)
SELECT origin, time_hour, visib, precip, wind_speed FROM dated
WHERE origin IS NOT NULL AND time_hour IS NOT NULL AND year IS NOT NULL AND month IS NOT NULL
  AND day IS NOT NULL AND hour IS NOT NULL
  AND weather_date IS NOT NULL AND weather_date = delivered_for
  AND origin IN ('EWR', 'JFK', 'LGA') AND hour BETWEEN 0 AND 23
  AND coalesce(temp BETWEEN -40 AND 130, true) AND coalesce(dewp BETWEEN -60 AND 100, true)
  AND coalesce(humid BETWEEN 0 AND 100, true) AND coalesce(wind_dir BETWEEN 0 AND 360, true)
  AND coalesce(wind_speed BETWEEN 0 AND 150, true)
  AND coalesce(wind_gust BETWEEN 0 AND 200, true)
  AND coalesce(precip BETWEEN 0 AND 10, true)
  AND coalesce(pressure BETWEEN 900 AND 1100, true)
  AND coalesce(visib BETWEEN 0 AND 10, true)
  AND obs_local::DATE = weather_date AND hour(obs_local) = hour
QUALIFY row_number() OVER (PARTITION BY origin, time_hour ORDER BY line DESC) = 1;

-- The fact: times (add_timestamps, add_arrival_utc), the contract's rules across fields, keys
-- to the dimensions (transforms/facts.py), in one pass.
CREATE TEMP TABLE fct_flights AS
WITH walls AS (
    SELECT rowid AS line, *,
        wall_minutes(flight_date, hhmm_minutes(sched_dep_time)) AS sched_dep_wall,
        wall_minutes(flight_date, arrival_minutes(
            hhmm_minutes(sched_dep_time), hhmm_minutes(sched_arr_time))) AS sched_arr_wall0
    FROM clean_flights
    -- two and three printable ASCII characters (a class per character: cheaper than a regex)
    WHERE carrier GLOB '[ -~][ -~]' AND dest GLOB '[ -~][ -~][ -~]'
      AND origin IN ('EWR', 'JFK', 'LGA')
      AND (tailnum IS NULL OR regexp_full_match(tailnum, '[A-Z0-9][A-Z0-9-]{1,6}'))
), departed AS (
    SELECT w.*, a.tzone AS dest_tzone, a.faa IS NULL AS unknown_dest,
        utc_minutes(sched_dep_wall, 'America/New_York', d.uniform, d.offset_minutes)
            AS sched_dep_utc,
        utc_minutes(sched_arr_wall0, a.tzone, s.uniform, s.offset_minutes) AS sched_arr_utc0
    FROM walls w
    LEFT JOIN airports a ON a.faa = w.dest
    LEFT JOIN utc_offsets d
        ON d.zone = 'America/New_York' AND d.local_hour = w.sched_dep_wall // 60
    LEFT JOIN utc_offsets s ON s.zone = a.tzone AND s.local_hour = w.sched_arr_wall0 // 60
), shifted AS (
    SELECT *,
        CASE WHEN dep_time IS NULL THEN NULL
             -- exact, even in the hour the clock repeats at the fall-back change
             WHEN dep_delay IS NOT NULL THEN sched_dep_utc + dep_delay
             -- by its clock (no delay recorded): few rows, converted by ICU
             ELSE icu_utc_minutes(
                 wall_minutes(flight_date, hhmm_minutes(dep_time)), 'America/New_York')
        END AS dep_utc,
        sched_arr_wall0 + 1440 * day_shift(sched_arr_utc0, sched_dep_utc) AS sched_arr_wall
    FROM departed
), arrived AS (
    SELECT s.*,
        utc_minutes(sched_arr_wall, dest_tzone, o.uniform, o.offset_minutes) AS sched_arr_utc,
        -- An arrival without a delay (diverted flights, few) is placed by its clock: after the
        -- departure's by its clock, moved to within a day after the departure in UTC.
        CASE WHEN arr_time IS NOT NULL AND arr_delay IS NULL THEN wall_minutes(
            flight_date, arrival_minutes(hhmm_minutes(dep_time) + 1440 * day_offset(
                hhmm_minutes(sched_dep_time), dep_delay, hhmm_minutes(dep_time)),
                hhmm_minutes(arr_time)))
        END AS arr_clock_wall
    FROM shifted s
    LEFT JOIN utc_offsets o ON o.zone = s.dest_tzone AND o.local_hour = s.sched_arr_wall // 60
), placed AS (
    SELECT *, arr_clock_wall + 1440 * day_shift(
        icu_utc_minutes(arr_clock_wall, dest_tzone), dep_utc) AS arr_clock_wall1
    FROM arrived
), timed AS (
    SELECT *,
        CASE WHEN arr_time IS NULL THEN NULL
             WHEN arr_delay IS NOT NULL THEN sched_arr_utc + arr_delay
             ELSE icu_utc_minutes(arr_clock_wall1, dest_tzone)
        END AS arr_utc,
        dep_time IS NULL AS cancelled
    FROM placed
)
SELECT t.line, t.flight_date, t.carrier, t.flight, t.origin, t.sched_dep_time, t.dest,
    t.time_hour, t.dep_utc, t.arr_utc, t.dep_delay, t.arr_delay, t.distance, t.cancelled,
    al.carrier IS NULL AS unknown_airline,
    ao.faa IS NULL AS unknown_origin,
    t.unknown_dest,
    p.tailnum IS NULL AS unknown_plane
FROM timed t
LEFT JOIN airlines al ON al.carrier = t.carrier
LEFT JOIN airports ao ON ao.faa = t.origin
LEFT JOIN plane_listings p ON p.tailnum = t.tailnum
    AND t.flight_date >= p.valid_from AND t.flight_date < p.valid_to
WHERE t.sched_dep_utc IS NOT NULL AND coalesce(t.arr_utc > t.dep_utc, true);
DROP TABLE clean_flights;

-- The last delivery of each business key among valid rows. A key is delivered more than once
-- only by a re-delivery (its date is its file's day), so nearly every group has one row and
-- this deletes nothing; grouping the valid rows costs less than a window over all of them
-- (DuckDB turns `QUALIFY row_number() ... = 1` into a per-key arg_max of every column).
DELETE FROM fct_flights f USING (
    SELECT flight_date, carrier, flight, origin, sched_dep_time, max(line) AS last_line
    FROM fct_flights GROUP BY ALL HAVING count(*) > 1
) redelivered
WHERE f.flight_date = redelivered.flight_date AND f.carrier = redelivered.carrier
  AND f.flight = redelivered.flight AND f.origin = redelivered.origin
  AND f.sched_dep_time = redelivered.sched_dep_time AND f.line < redelivered.last_line;

CREATE TEMP TABLE fact_fingerprint AS
SELECT count(*) AS rows,
    count(*) FILTER (WHERE cancelled) AS cancelled,
    count(arr_utc) AS arrivals_utc,
    sum(dep_utc * 60)::BIGINT AS dep_utc_seconds,
    sum(arr_utc * 60)::BIGINT AS arr_utc_seconds,
    count(*) FILTER (WHERE unknown_airline) AS unknown_airline,
    count(*) FILTER (WHERE unknown_origin) AS unknown_origin,
    count(*) FILTER (WHERE unknown_dest) AS unknown_dest,
    count(*) FILTER (WHERE unknown_plane) AS unknown_plane
FROM fct_flights;

-- The marts (transforms/marts.py); names are joined to the aggregates, not to every flight.
CREATE TEMP TABLE mart_ontime_daily AS
SELECT m.*, al.name AS carrier_name
FROM (
    SELECT flight_date, carrier, origin,
        count(*) AS flights, count(*) FILTER (WHERE cancelled) AS cancelled,
        count(arr_delay) AS arrived, avg(arr_delay) AS mean_arr_delay,
        avg((arr_delay > 15)::DOUBLE) AS delayed_share
    FROM fct_flights GROUP BY flight_date, carrier, origin
) m
LEFT JOIN airlines al USING (carrier);

CREATE TEMP TABLE mart_routes AS
SELECT r.*, ap.name AS dest_name
FROM (
    SELECT origin, dest, min(flight_date) AS first_date, max(flight_date) AS last_date,
        count(*) AS flights, count(*) FILTER (WHERE cancelled) AS cancelled,
        avg(dep_delay) AS mean_dep_delay, avg(arr_delay) AS mean_arr_delay,
        avg(distance) AS distance
    FROM fct_flights GROUP BY origin, dest
) r
LEFT JOIN airports ap ON ap.faa = r.dest;

-- Flights are added up per day, origin and UTC hour first (their weather is the same), so the
-- join and the bands work on ~26,000 hours, not on every flight; the means are integer sums
-- over counts.
CREATE TEMP TABLE mart_delay_weather AS
WITH hourly AS (
    SELECT flight_date, origin, time_hour, count(*) AS flights,
        sum(dep_delay) AS delay_sum, count(dep_delay) AS delays,
        count(*) FILTER (WHERE dep_delay > 15) AS late
    FROM fct_flights WHERE NOT cancelled
    GROUP BY flight_date, origin, time_hour
), banded AS (
    SELECT h.*,
        CASE WHEN w.visib IS NULL THEN 'no observation' WHEN w.visib < 1 THEN '<1 mi'
             WHEN w.visib < 3 THEN '1-3 mi' WHEN w.visib < 5 THEN '3-5 mi'
             WHEN w.visib < 10 THEN '5-10 mi' ELSE '10+ mi' END AS visibility,
        CASE WHEN w.precip IS NULL THEN 'no observation' WHEN w.precip = 0 THEN 'none'
             WHEN w.precip < 0.1 THEN 'light (<0.1 in)' ELSE 'heavy (>=0.1 in)'
        END AS precipitation,
        CASE WHEN w.wind_speed IS NULL THEN 'no observation'
             WHEN w.wind_speed < 10 THEN '<10 mph' WHEN w.wind_speed < 20 THEN '10-20 mph'
             ELSE '20+ mph' END AS wind
    FROM hourly h
    LEFT JOIN weather w ON w.origin = h.origin AND w.time_hour = h.time_hour
)
SELECT flight_date, origin, visibility, precipitation, wind,
    sum(flights) AS flights,
    sum(delay_sum) / nullif(sum(delays), 0) AS mean_dep_delay,
    sum(late) / nullif(sum(delays), 0) AS delayed_share
FROM banded GROUP BY ALL;
