-- One row per month of the staged days this run reads (`days`: staged/seattle_weather).
SELECT
    CAST(date_trunc('month', date) AS DATE) AS month,
    count(*) AS days,
    count(*) FILTER (WHERE precipitation > 0) AS wet_days,
    sum(precipitation) AS precipitation,
    avg(temp_max) AS mean_temp_max,
    avg(temp_min) AS mean_temp_min,
    max(temp_max) AS warmest,
    min(temp_min) AS coldest,
    count(*) FILTER (WHERE weather = 'sun') AS sunny_days
FROM days
GROUP BY 1
ORDER BY 1
