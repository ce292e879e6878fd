-- The minimal DuckDB floor: the least work that yields the same marts and fact fingerprint as
-- the platform on the benchmark's landing files, which are valid. It prices the marts alone;
-- bench/floor.sql adds the platform's semantics, the platform adds its guarantees.
--
-- The runner sets `landing` (the landing folder) with SET VARIABLE and runs floor_common.sql
-- (session, macros, the table of UTC offsets) before this.
-- Results: tables mart_ontime_daily, mart_routes, mart_delay_weather and fact_fingerprint.
--
-- What it keeps, because the figures depend on it: UTC departures and arrivals resolved
-- exactly as the platform does (the fingerprint sums them), the destination's time zone, the
-- plane listed on the flight date (the fingerprint counts unknown planes), the newest snapshot
-- of airlines and airports, and the weather contract's ranges (the sample has an observation
-- of a 1,048 mph wind at EWR on 2013-02-12 03:00 that the contract rejects; the weather mart's
-- bands differ without it; 26,115 rows, nothing measurable).
-- What it skips, so it agrees only on valid input: the reader fails on a field that does not
-- parse instead of rejecting the row, and only the columns the marts read are parsed; no
-- staging checks, no flight or reference contract, no trimming of text, no deduplication (a
-- re-delivered flight would count twice), no last-line-per-key in the reference tables, no
-- per-flight fact table: flights are added up straight into the grain the marts need.

CREATE TEMP TABLE airlines AS
SELECT carrier, name
FROM read_csv(getvariable('landing') || '/airlines/*.csv', header = true, filename = true,
    nullstr = ['NA', ''], columns = {'carrier': 'VARCHAR', 'name': 'VARCHAR'})
WHERE file_day(filename)
    = (SELECT max(file_day(file)) FROM glob(getvariable('landing') || '/airlines/*.csv'));

CREATE TEMP TABLE airports AS
SELECT faa, name, tzone
FROM read_csv(getvariable('landing') || '/airports/*.csv', header = true, filename = true,
    nullstr = ['NA', ''], columns = {
        'faa': 'VARCHAR', 'name': 'VARCHAR', 'lat': 'VARCHAR', 'lon': 'VARCHAR',
        'alt': 'VARCHAR', 'tz': 'VARCHAR', 'dst': 'VARCHAR', 'tzone': 'VARCHAR'})
WHERE file_day(filename)
    = (SELECT max(file_day(file)) FROM glob(getvariable('landing') || '/airports/*.csv'));

-- A plane is known on a day when the newest planes snapshot on or before it lists it.
CREATE TEMP TABLE plane_listings AS
WITH listed AS (
    SELECT DISTINCT tailnum, file_day(filename) AS snapshot_date
    FROM read_csv(getvariable('landing') || '/planes/*.csv', header = true, filename = true,
        nullstr = ['NA', ''], all_varchar = true)
), snapshots AS (
    SELECT snapshot_date,
        coalesce(lead(snapshot_date) OVER (ORDER BY snapshot_date), DATE '9999-12-31')
            AS next_snapshot
    FROM (SELECT DISTINCT snapshot_date FROM listed)
)
SELECT tailnum, snapshot_date AS valid_from, next_snapshot AS valid_to
FROM listed JOIN snapshots USING (snapshot_date);

CREATE TEMP TABLE weather AS
SELECT origin, time_hour, visib, precip, wind_speed
FROM read_csv(getvariable('landing') || '/weather/*.csv', header = true,
    auto_detect = false, delim = ',', quote = '', escape = '',
    nullstr = ['NA', ''], timestampformat = '%Y-%m-%dT%H:%M:%SZ', columns = {
        'origin': 'VARCHAR', 'year': 'SMALLINT', 'month': 'TINYINT', 'day': 'TINYINT',
        'hour': 'TINYINT', 'temp': 'DOUBLE', 'dewp': 'DOUBLE', 'humid': 'DOUBLE',
        'wind_dir': 'SMALLINT', 'wind_speed': 'DOUBLE', 'wind_gust': 'DOUBLE',
        'precip': 'DOUBLE', 'pressure': 'DOUBLE', 'visib': 'DOUBLE', 'time_hour': 'TIMESTAMP'})
WHERE coalesce(temp BETWEEN -40 AND 130, true) AND coalesce(dewp BETWEEN -60 AND 100, true)
  AND coalesce(humid BETWEEN 0 AND 100, true) AND coalesce(wind_dir BETWEEN 0 AND 360, true)
  AND coalesce(wind_speed BETWEEN 0 AND 150, true)
  AND coalesce(wind_gust BETWEEN 0 AND 200, true)
  AND coalesce(precip BETWEEN 0 AND 10, true)
  AND coalesce(pressure BETWEEN 900 AND 1100, true)
  AND coalesce(visib BETWEEN 0 AND 10, true);

-- Flights, timed as in floor.sql, added up per day, carrier, route and UTC hour: every mart
-- and the fingerprint are sums over that grain (means are sums over counts).
CREATE TEMP TABLE flights_by_hour AS
WITH flights AS (
    SELECT *, make_date(year, month, day) AS flight_date
    FROM read_csv(getvariable('landing') || '/flights/*.csv', header = true,
        auto_detect = false, delim = ',', quote = '', escape = '',
        nullstr = ['NA', ''], timestampformat = '%Y-%m-%dT%H:%M:%SZ', columns = {
            'year': 'SMALLINT', 'month': 'TINYINT', 'day': 'TINYINT',
            'dep_time': 'SMALLINT', 'sched_dep_time': 'SMALLINT', 'dep_delay': 'SMALLINT',
            'arr_time': 'SMALLINT', 'sched_arr_time': 'SMALLINT', 'arr_delay': 'SMALLINT',
            'carrier': 'VARCHAR', 'flight': 'INTEGER', 'tailnum': 'VARCHAR',
            'origin': 'VARCHAR', 'dest': 'VARCHAR', 'air_time': 'SMALLINT',
            'distance': 'SMALLINT', 'hour': 'TINYINT', 'minute': 'TINYINT',
            'time_hour': 'TIMESTAMP'})
), walls AS (
    SELECT *,
        wall_minutes(flight_date, hhmm_minutes(sched_dep_time)) AS sched_dep_wall,
        wall_minutes(flight_date, arrival_minutes(
            hhmm_minutes(sched_dep_time), hhmm_minutes(sched_arr_time))) AS sched_arr_wall0
    FROM flights
), departed AS (
    SELECT w.*, a.tzone AS dest_tzone,
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
             WHEN dep_delay IS NOT NULL THEN sched_dep_utc + dep_delay
             ELSE icu_utc_minutes(
                 wall_minutes(flight_date, hhmm_minutes(dep_time)), 'America/New_York')
        END AS dep_utc,
        sched_arr_wall0 + 1440 * day_shift(sched_arr_utc0, sched_dep_utc) AS sched_arr_wall
    FROM departed
), arrived AS (
    SELECT s.*,
        utc_minutes(sched_arr_wall, dest_tzone, o.uniform, o.offset_minutes) AS sched_arr_utc,
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
        END AS arr_utc
    FROM placed
)
SELECT t.flight_date, t.carrier, t.origin, t.dest, t.time_hour,
    count(*) AS flights,
    count(*) FILTER (WHERE t.dep_time IS NULL) AS cancelled,
    count(t.arr_delay) AS arr_delays, sum(t.arr_delay) AS arr_delay_sum,
    count(*) FILTER (WHERE t.arr_delay > 15) AS late_arrivals,
    count(t.dep_delay) AS dep_delays, sum(t.dep_delay) AS dep_delay_sum,
    count(*) FILTER (WHERE t.dep_delay > 15) AS late_departures,
    count(t.distance) AS distances, sum(t.distance) AS distance_sum,
    sum(t.dep_utc) AS dep_utc_sum, sum(t.arr_utc) AS arr_utc_sum,
    count(t.arr_utc) AS arrivals_utc,
    count(*) FILTER (WHERE p.tailnum IS NULL) AS unknown_plane
FROM timed t
LEFT JOIN plane_listings p ON p.tailnum = t.tailnum
    AND t.flight_date >= p.valid_from AND t.flight_date < p.valid_to
GROUP BY t.flight_date, t.carrier, t.origin, t.dest, t.time_hour;

CREATE TEMP TABLE fact_fingerprint AS
SELECT sum(h.flights) AS rows, sum(h.cancelled) AS cancelled,
    sum(h.arrivals_utc) AS arrivals_utc,
    (sum(h.dep_utc_sum) * 60)::BIGINT AS dep_utc_seconds,
    (sum(h.arr_utc_sum) * 60)::BIGINT AS arr_utc_seconds,
    coalesce(sum(h.flights) FILTER (WHERE al.carrier IS NULL), 0) AS unknown_airline,
    coalesce(sum(h.flights) FILTER (WHERE ao.faa IS NULL), 0) AS unknown_origin,
    coalesce(sum(h.flights) FILTER (WHERE ad.faa IS NULL), 0) AS unknown_dest,
    sum(h.unknown_plane) AS unknown_plane
FROM flights_by_hour h
LEFT JOIN airlines al ON al.carrier = h.carrier
LEFT JOIN airports ao ON ao.faa = h.origin
LEFT JOIN airports ad ON ad.faa = h.dest;

CREATE TEMP TABLE mart_ontime_daily AS
SELECT m.*, al.name AS carrier_name
FROM (
    SELECT flight_date, carrier, origin, sum(flights) AS flights, sum(cancelled) AS cancelled,
        sum(arr_delays) AS arrived,
        sum(arr_delay_sum) / nullif(sum(arr_delays), 0) AS mean_arr_delay,
        sum(late_arrivals) / nullif(sum(arr_delays), 0) AS delayed_share
    FROM flights_by_hour GROUP BY flight_date, carrier, origin
) m
LEFT JOIN airlines al USING (carrier);

CREATE TEMP TABLE mart_routes AS
SELECT r.*, ap.name AS dest_name
FROM (
    SELECT origin, dest, min(flight_date) AS first_date, max(flight_date) AS last_date,
        sum(flights) AS flights, sum(cancelled) AS cancelled,
        sum(dep_delay_sum) / nullif(sum(dep_delays), 0) AS mean_dep_delay,
        sum(arr_delay_sum) / nullif(sum(arr_delays), 0) AS mean_arr_delay,
        sum(distance_sum) / nullif(sum(distances), 0) AS distance
    FROM flights_by_hour GROUP BY origin, dest
) r
LEFT JOIN airports ap ON ap.faa = r.dest;

-- Cancelled flights have no departure delay, so the departure sums are already over flights
-- that departed; only the count needs the cancelled ones taken out.
CREATE TEMP TABLE mart_delay_weather AS
WITH banded AS (
    SELECT h.flight_date, h.origin, h.flights - h.cancelled AS flights,
        h.dep_delays, h.dep_delay_sum, h.late_departures,
        CASE WHEN w.visib IS NULL THEN 'no observation' WHEN w.visib < 1 THEN '<1 mi'
             WHEN w.visib < 3 THEN '1-3 mi' WHEN w.visib < 5 THEN '3-5 mi'
             WHEN w.visib < 10 THEN '5-10 mi' ELSE '10+ mi' END AS visibility,
        CASE WHEN w.precip IS NULL THEN 'no observation' WHEN w.precip = 0 THEN 'none'
             WHEN w.precip < 0.1 THEN 'light (<0.1 in)' ELSE 'heavy (>=0.1 in)'
        END AS precipitation,
        CASE WHEN w.wind_speed IS NULL THEN 'no observation'
             WHEN w.wind_speed < 10 THEN '<10 mph' WHEN w.wind_speed < 20 THEN '10-20 mph'
             ELSE '20+ mph' END AS wind
    FROM flights_by_hour h
    LEFT JOIN weather w ON w.origin = h.origin AND w.time_hour = h.time_hour
    WHERE h.flights > h.cancelled
)
SELECT flight_date, origin, visibility, precipitation, wind,
    sum(flights) AS flights,
    sum(dep_delay_sum) / nullif(sum(dep_delays), 0) AS mean_dep_delay,
    sum(late_departures) / nullif(sum(dep_delays), 0) AS delayed_share
FROM banded GROUP BY ALL;
