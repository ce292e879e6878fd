-- One row per month of the staged prices this run reads (`prices`: staged/stocks).
SELECT
    date AS month,
    count(*) AS symbols,
    sum(price) AS basket,
    max(price) AS highest,
    arg_max(symbol, price) AS highest_symbol,
    min(price) AS lowest,
    arg_min(symbol, price) AS lowest_symbol
FROM prices
GROUP BY date
ORDER BY date
