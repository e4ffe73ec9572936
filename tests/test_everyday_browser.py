"""What a journalist meets in the browser (real headless Chromium): the
suggestions reached with the arrow keys and closed with Escape from
anywhere, the box focused on the home page, the way back from an item to the
same results, and a finger-sized 記事を表示 link on a phone."""

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from test_browser import browser, search_box, wait  # noqa: F401 - the fixture; skips without Chromium

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

from web import create_app  # noqa: E402

from servers import wsgi  # noqa: E402


@pytest.fixture(scope="module")
def base_url(sample_index):
    with wsgi(create_app({"INDEX_DIR": sample_index, "TESTING": True})) as url:
        yield url


@pytest.fixture
def driver(browser):  # noqa: F811
    browser.set_window_size(1280, 1000)
    return browser


def active(driver):
    return driver.switch_to.active_element


def suggestions(driver):
    panel = wait(driver).until(EC.visibility_of_element_located((By.ID, "live-results")))
    wait(driver).until(lambda d: len(panel.find_elements(By.CSS_SELECTOR, "a")) >= 2)
    return panel, panel.find_elements(By.CSS_SELECTOR, "a")


def test_the_home_page_focuses_the_box(driver, base_url):
    driver.get(base_url + "/")
    assert active(driver) == search_box(driver)


def test_arrow_keys_move_through_the_suggestions(driver, base_url):
    driver.get(base_url + "/")
    box = search_box(driver)
    box.send_keys("ペスコフ")
    panel, links = suggestions(driver)
    box.send_keys(Keys.ARROW_DOWN)
    assert active(driver) == links[0]
    active(driver).send_keys(Keys.ARROW_DOWN)
    assert active(driver) == links[1]
    active(driver).send_keys(Keys.ARROW_UP)
    active(driver).send_keys(Keys.ARROW_UP)
    assert active(driver) == box
    box.send_keys(Keys.ARROW_DOWN)
    active(driver).send_keys(Keys.ENTER)  # a suggestion opens its item
    wait(driver).until(EC.url_contains("/items/"))


def test_escape_closes_the_suggestions_from_anywhere(driver, base_url):
    driver.get(base_url + "/")
    box = search_box(driver)
    box.send_keys("ウクライナ")
    panel, links = suggestions(driver)
    box.send_keys(Keys.ARROW_DOWN)
    active(driver).send_keys(Keys.ESCAPE)  # from inside the list: back to the box
    wait(driver).until(EC.invisibility_of_element(panel))
    assert active(driver) == box
    box.send_keys(" ロシア")
    panel, _ = suggestions(driver)
    driver.find_element(By.TAG_NAME, "h1").click()  # focus leaves the box
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait(driver).until(EC.invisibility_of_element(panel))


def test_back_to_the_results_returns_to_the_same_search(driver, base_url):
    search = (f"/?q={quote('ウクライナ')}&source={quote('NHKニュース')}"
              "&sort=newest&per_page=2&page=2")
    driver.get(base_url + search)
    driver.find_element(By.CSS_SELECTOR, ".hit-actions a").click()
    wait(driver).until(EC.url_contains("/items/"))
    driver.find_element(By.CSS_SELECTOR, "nav.breadcrumb a").click()
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "strong.total")))
    assert parse_qs(urlsplit(driver.current_url).query) == parse_qs(urlsplit(search).query)
    assert driver.find_element(By.CSS_SELECTOR, "ol.hits").get_attribute("start") == "3"


def test_the_item_link_is_a_finger_sized_target_on_a_phone(driver, base_url):
    driver.set_window_size(390, 844)
    try:
        driver.get(base_url + "/?q=" + quote("ウクライナ"))
        for link in driver.find_elements(By.CSS_SELECTOR, ".hit-actions a")[:3]:
            size = link.size
            assert size["height"] >= 44 and size["width"] >= 44, size
    finally:
        driver.set_window_size(1280, 1000)


# ------------------------------------------------------------ stories (issue 12)

def test_results_are_grouped_by_story_with_a_link_to_the_rest(driver, base_url):
    driver.get(base_url + "/?q=" + quote("プーチン"))
    more = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "a.story-more")))
    text = more.text
    assert text.startswith("ほか ") and "件（" in text
    count = int(text.split()[1])
    more.click()
    wait(driver).until(EC.url_contains("story="))
    listed = driver.find_elements(By.CSS_SELECTOR, "li.hit")
    assert len(listed) == count + 1  # the story's matching items, its best hit among them
    switch = driver.find_element(By.CSS_SELECTOR, "nav.group-switch a[aria-current]")
    assert switch.text == "すべて表示"


def test_the_timeline_is_drawn_and_its_bars_navigate(driver, base_url):
    driver.get(base_url + "/?q=" + quote("ウクライナ"))
    chart = wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, "svg.timeline-chart")))
    assert chart.size["width"] > 300 and chart.size["height"] > 50
    bars = driver.find_elements(By.CSS_SELECTOR, "svg.timeline-chart a.timeline-bar")
    assert len(bars) == 3  # three days of samples
    heights = [float(b.find_element(By.CSS_SELECTOR, "rect").get_attribute("height")) for b in bars]
    assert max(heights) > 0
    bars[0].click()
    wait(driver).until(EC.url_contains("from=2025-02-12"))
    assert parse_qs(urlsplit(driver.current_url).query)["to"] == ["2025-02-12"]
    for day in driver.find_elements(By.CSS_SELECTOR, "li.hit time"):
        assert day.get_attribute("datetime") == "2025-02-12"
    share = driver.find_element(By.LINK_TEXT, "割合")
    share.click()
    wait(driver).until(EC.url_contains("timeline=share"))
    assert driver.find_element(By.CSS_SELECTOR, "svg.timeline-chart desc").get_attribute(
        "textContent").count("割合") == 1


def test_the_timeline_is_readable_on_a_phone(driver, base_url):
    driver.set_window_size(390, 844)
    try:
        driver.get(base_url + "/?q=" + quote("ウクライナ"))
        chart = driver.find_element(By.CSS_SELECTOR, "svg.timeline-chart")
        width = driver.execute_script("return document.documentElement.clientWidth")
        assert chart.size["width"] <= width and chart.size["width"] > width * 0.7
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
    finally:
        driver.set_window_size(1280, 1000)


def test_the_item_page_shows_its_story_and_related_items(driver, base_url):
    driver.get(base_url + "/?q=" + quote("鉱物資源協定 草案"))
    driver.find_element(By.CSS_SELECTOR, ".hit-actions a").click()
    wait(driver).until(EC.url_contains("/items/"))
    same = driver.find_element(By.ID, "same-story-title")
    assert same.text.startswith("同じ話題の記事")
    related = driver.find_element(By.ID, "related-title")
    assert related.text == "関連する記事"
    links = driver.find_elements(By.CSS_SELECTOR, "section.related a")
    assert len(links) >= 3
    first = links[0].text
    links[0].click()
    wait(driver).until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), first[:10]))


def test_the_home_page_shows_the_newest_day_and_the_archives_timeline(driver, base_url):
    driver.get(base_url + "/")
    newest = driver.find_element(By.ID, "newest-title")
    assert "2025年2月14日" in newest.text and "話題" in newest.text
    assert driver.find_elements(By.CSS_SELECTOR, "section.newest li.hit")
    assert driver.find_element(By.CSS_SELECTOR, "svg.timeline-chart").is_displayed()
