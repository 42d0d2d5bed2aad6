"""The worked examples the venues publish, reproduced to the digit they print.

Each test names its source (title and address). Where the stored copy of an official page
stops before an example's numbers, the test says where the numbers were read instead.
"""

from __future__ import annotations

from decimal import Decimal as D

from hashdesk.futures import (
    Contract,
    MaintenanceRate,
    Position,
    Side,
    Venue,
    bankruptcy_price,
    demo_tier_table,
    funding_payment,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    round_to_tick,
    unrealised_pnl,
)


def linear(side: Side, entry: str, quantity: str) -> Position:
    return Position(Contract.LINEAR, side, D(entry), D(quantity))


def inverse(side: Side, entry: str, contracts: str, size: str) -> Position:
    return Position(Contract.INVERSE, side, D(entry), D(contracts), D(size))


# --- Bybit ------------------------------------------------------------------------------------


def test_bybit_usdt_isolated_long_example_1() -> None:
    # Bybit, "Liquidation Price (USDT Contract)", Example 1 (Long):
    # https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract
    # 1 BTC long at 20,000 USDT, 50x, MMR 0.5 %: IM 400, MM 100, LP = 20,000 - (400 - 100) = 19,700.
    position = linear(Side.LONG, "20000", "1")
    im = initial_margin(position, D(50))
    assert im == D(400)
    assert maintenance_margin(position, MaintenanceRate(D("0.005"))) == D(100)
    assert liquidation_price(position, im, MaintenanceRate(D("0.005")), venue=Venue.BYBIT) == D(
        19700
    )


def test_bybit_usdt_isolated_short_with_extra_margin_and_funding_deduction() -> None:
    # Bybit, "Liquidation Price (USDT Contract)", Example 2 (short, 3,000 USDT extra margin:
    # LP 23,300) and the funding-fee example (200 USDT taken from Example 1's position margin:
    # LP 19,900): https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract
    # The stored copy of that page stops after Example 1; the two figures were read from
    # copies of the same article: https://open-lib.com/8036.html and https://wuyelx.com/4039.html
    terms = MaintenanceRate(D("0.005"))
    short = linear(Side.SHORT, "20000", "1")
    margin = initial_margin(short, D(50)) + D(3000)
    assert liquidation_price(short, margin, terms, venue=Venue.BYBIT) == D(23300)

    long = linear(Side.LONG, "20000", "1")
    after_funding = initial_margin(long, D(50)) - D(200)
    assert liquidation_price(long, after_funding, terms, venue=Venue.BYBIT) == D(19900)


def test_bybit_usdt_bankruptcy_price() -> None:
    # Bybit, "Bankruptcy Price (USDT Contract)": 1 BTC long at 10,000 USDT, 50x:
    # bankruptcy price = 10,000 x (1 - 2 %) = 9,800 USDT. Seen in Bybit's help-center listing
    # https://www.bybitx.global/fil-PH/help-center/search-result?page=46&pageSize=10&query=trade
    position = linear(Side.LONG, "10000", "1")
    assert bankruptcy_price(position, initial_margin(position, D(50))) == D(9800)
    short = linear(Side.SHORT, "10000", "1")
    assert bankruptcy_price(short, initial_margin(short, D(50))) == D(10200)


def test_bybit_inverse_cross_long_with_fee_to_close() -> None:
    # Bybit, "How to calculate Liquidation Price (Inverse Contract)", cross margin example:
    # https://help.bybit.com/hc/en-us/articles/360039261334-How-to-calculate-Liquidation-Price-Inverse-Contract-
    # 0.5 BTC balance, long 10,000 contracts (1 USD each) at 8,000, MMR 0.5 %, taker fee 0.075 %:
    # bankruptcy price = 1.00075 x 10000 / (10000/8000 + 0.5) = 5718.57, liquidation 5739.50.
    # The liquidation price is shown on the 0.5 tick, rounded up for a long as "What is
    # Bankruptcy Price?" says: https://help.bybit.com/hc/en-us/articles/360011431853-What-is-Bankruptcy-Price-
    position = inverse(Side.LONG, "8000", "10000", "1")
    fee = D("0.00075")
    bankruptcy = bankruptcy_price(position, D("0.5"), closing_fee_rate=fee)
    assert bankruptcy is not None
    assert bankruptcy.quantize(D("0.01")) == D("5718.57")
    price = liquidation_price(
        position, D("0.5"), MaintenanceRate(D("0.005")), venue=Venue.BYBIT, closing_fee_rate=fee
    )
    assert price is not None
    assert D("5739") < price < D("5739.5")
    assert round_to_tick(price, D("0.5"), Side.LONG) == D("5739.5")


def test_bybit_inverse_isolated_uta_formula() -> None:
    # Bybit, "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)",
    # inverse example: https://testnet.bybit.com/ar-SA/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account
    # 60,000 USD of BTCUSD at 50,000, 10x, MMR 0.5 %: position value 1.2 BTC, initial margin
    # 0.12 BTC. The stored copy stops before the printed liquidation price, so the test checks
    # the published figures and that our price is the page's formula
    # Contract Quantity / [Position Value + (Initial Margin - Maintenance Margin)].
    position = inverse(Side.LONG, "50000", "60000", "1")
    assert position.entry_notional == D("1.2")
    im = initial_margin(position, D(10))
    assert im == D("0.12")
    mm = maintenance_margin(position, MaintenanceRate(D("0.005")))
    assert mm == D("0.006")
    price = liquidation_price(position, im, MaintenanceRate(D("0.005")), venue=Venue.BYBIT)
    assert price == D(60000) / (D("1.2") + (im - mm))


def test_bybit_funding_fee_linear_and_inverse() -> None:
    # Bybit, "Funding Fee Calculation":
    # https://bybit.com/ro-RO/help-center/article/Funding-fee-calculationDerivatives_Trading_Mechanism_UTA
    # (the stored copy stops before the examples; read from a copy of the article:
    # https://pastorq.com/10809.html). Linear: 10 BTC x 16,000 = 160,000 USDT x 0.0001 % =
    # 0.16 USDT. Inverse: 10,000 BTCUSD / 16,000 = 0.625 BTC x 0.01 % = 0.0000625 BTC.
    # Longs pay when the rate is positive.
    long = linear(Side.LONG, "15000", "10")
    assert funding_payment(long, D(16000), D("0.000001")) == D("0.16")
    short = linear(Side.SHORT, "15000", "10")
    assert funding_payment(short, D(16000), D("0.000001")) == D("-0.16")
    coin = inverse(Side.LONG, "15000", "10000", "1")
    assert funding_payment(coin, D(16000), D("0.0001")) == D("0.0000625")


# --- Binance ----------------------------------------------------------------------------------


def test_binance_coin_m_calculator_example() -> None:
    # "Coin-margined futures liquidation price calculation help (CM variable)", Binance
    # developer forum: https://dev.binance.vision/t/coin-margined-futures-liquidation-price-calculation-help-cm-variable/6292
    # Wallet 101 BTC, long 100,000 BTCUSD contracts (100 USD each) at 45,000, cross, nothing
    # else: Binance's calculator shows 33,599.40; the poster's code, with the older 11.81 BTC
    # maintenance amount, 33,578.859744834. Binance's COIN-M formula
    # ("How to Calculate Liquidation Price of Coin-M Futures Contracts",
    # https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46) with the tier of
    # ~300 BTC (12.5 %, 11.605 BTC, as that page states today) gives the calculator's figure on
    # its 0.1 tick, and with 11.81 the poster's to all nine decimals.
    position = inverse(Side.LONG, "45000", "100000", "100")
    price = liquidation_price(position, D(101), demo_tier_table("BTCUSD"))
    assert price is not None
    assert price.quantize(D("0.1")) == D("33599.4")
    older = liquidation_price(position, D(101), MaintenanceRate(D("0.125"), D("11.81")))
    assert older is not None
    assert older.quantize(D("0.000000001")) == D("33578.859744834")


def test_binance_coin_m_maintenance_margin_example() -> None:
    # "How to Calculate Liquidation Price of Coin-M Futures Contracts", maintenance margin
    # example: https://www.binance.com/es-MX/support/faq/how-to-calculate-liquidation-price-of-coin-m-futures-contracts-ceccfcfb4e3a45e3b48b0b1bb1a8ae46
    # 100 contracts at a mark price of 25,000: notional 100 x 100 / 25,000 = 0.4 BTC, level 1,
    # maintenance margin = 0.4 x 0.4 % - 0 = 0.0016 BTC.
    position = inverse(Side.LONG, "20000", "100", "100")
    assert position.notional(D(25000)) == D("0.4")
    assert maintenance_margin(position, demo_tier_table("BTCUSD"), D(25000)) == D("0.0016")


def test_binance_unrealised_pnl_examples() -> None:
    # Binance, "A Beginner's Guide to Futures Trading": a 1 BTC long from 5,000 to 5,500 and a
    # 1 BTC short from 5,000 to 4,500 each make 500 USD; COIN-M PnL =
    # size x multiplier x direction x (1/entry - 1/mark).
    # https://binance.com/en-IN/support/announcement/a-beginner-s-guide-to-futures-trading-360039304272
    assert unrealised_pnl(linear(Side.LONG, "5000", "1"), D(5500)) == D(500)
    assert unrealised_pnl(linear(Side.SHORT, "5000", "1"), D(4500)) == D(500)
    coin = inverse(Side.LONG, "5000", "10", "100")
    assert unrealised_pnl(coin, D(5500)) == D(1000) * (D(1) / D(5000) - D(1) / D(5500))


# --- CoinEx -----------------------------------------------------------------------------------


def test_coinex_linear_published_formula() -> None:
    # CoinEx, "How to Calculate Liquidation Price For Linear Contract":
    # https://support.coinex.com/hc/en-us/articles/6951824248601-How-to-Calculate-Liquidation-Price-For-Linear-Contract
    # Long LP = settlement price x (1 - LMR) / (1 - MMR), bankruptcy = settlement x (1 - LMR);
    # short with + ; LMR (isolated) = (position margin - unrealised PnL) / settlement value.
    # CoinEx prints no worked numbers there; this evaluates the page's formula for a 2 BTC
    # position at 30,000 with 6,000 USDT margin and MMR 0.5 % and checks our convention
    # against it (and that it is Binance's formula with no maintenance amount).
    terms = MaintenanceRate(D("0.005"))
    for side, sign in ((Side.LONG, 1), (Side.SHORT, -1)):
        position = linear(side, "30000", "2")
        lmr = D(6000) / D(60000)
        expected = D(30000) * (1 - sign * lmr) / (1 - sign * D("0.005"))
        assert liquidation_price(position, D(6000), terms, venue=Venue.COINEX) == expected
        assert bankruptcy_price(position, D(6000)) == D(30000) * (1 - sign * lmr)
        binance = liquidation_price(position, D(6000), terms)
        assert binance is not None
        assert abs(binance - expected) < D("1e-25")
