"""The search page in a real headless Chromium (selenium): type a query into
the labelled box, submit with Enter, read the results, refine with a facet,
open an item, move with the keyboard, and check that the page's Content
Security Policy blocks nothing of its own; search as you type (static/app.js)
waits for the IME and debounces; and with JavaScript turned off the page
works the same. Screenshots of the results go to
/tmp/search-page.png (desktop) and /tmp/search-page-390.png (phone width)."""

import json
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit
from urllib.request import urlopen

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if not CHROMIUM.exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (make test-deps installs it)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from web import create_app  # noqa: E402

from servers import wsgi  # noqa: E402

SCREENSHOT = "/tmp/search-page.png"
SCREENSHOT_PHONE = "/tmp/search-page-390.png"
WAIT = 20
# The page groups hits by story unless group=none: what a user types lands on
# the stories; the tests of the list of items ask for the list.
ITEMS = "&group=none"


@pytest.fixture(scope="module")
def base_url(data_index):
    with wsgi(create_app({"INDEX_DIR": data_index, "TESTING": True})) as url:
        yield url


def start_chromium(javascript=True):
    profile = tempfile.mkdtemp(prefix="chromium-test-")
    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update",
                "--disable-sync", "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.binary_location = str(CHROMIUM)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    return driver, profile


@pytest.fixture(scope="module")
def browser():
    driver, profile = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_without_js():
    driver, profile = start_chromium(javascript=False)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, base_url):
    browser.set_window_size(1280, 1000)
    browser.get_log("browser")  # start each test with an empty console
    return browser


def wait(driver):
    return WebDriverWait(driver, WAIT)


def search_box(driver):
    """The input the label 「検索」 names (found through the label, as a user would)."""
    label = next(l for l in driver.find_elements(By.TAG_NAME, "label") if l.text == "検索")
    return driver.find_element(By.ID, label.get_attribute("for"))


def result_count(driver):
    text = wait(driver).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "strong.total"))).text
    assert text.endswith(" 件"), text
    return int(text[:-2].replace(",", ""))


def api_total(base_url, q, **params):
    """The API's total for q (items; stories with group="story")."""
    with urlopen(f"{base_url}/api/search?{urlencode(dict(q=q, **params))}") as response:
        return json.load(response)["total"]


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_search_with_enter(page, base_url):
    page.get(base_url + "/")
    assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja"
    box = search_box(page)
    box.send_keys("ペスコフ")
    box.send_keys(Keys.ENTER)
    wait(page).until(EC.url_contains("q="))
    # Three items, shown by story.
    assert api_total(base_url, "ペスコフ") == 3
    stories = api_total(base_url, "ペスコフ", group="story")
    assert result_count(page) == stories
    assert "件" in page.find_element(By.CSS_SELECTOR, "p.summary").text
    marks = page.find_elements(By.CSS_SELECTOR, "ol.hits mark")
    assert marks and {m.text for m in marks} == {"ペスコフ"}
    assert len(page.find_elements(By.CSS_SELECTOR, "li.hit")) == stories
    assert search_box(page).get_attribute("value") == "ペスコフ"
    # The mark is visibly highlighted, not just present in the markup.
    assert marks[0].value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "")
    page.save_screenshot(SCREENSHOT)
    assert Path(SCREENSHOT).stat().st_size > 10_000
    assert not console_errors(page)


def test_phone_width(page, base_url):
    page.set_window_size(390, 844)
    page.get(base_url + "/?q=ウクライナ" + ITEMS)
    assert result_count(page) == 19
    width = page.execute_script("return document.documentElement.clientWidth")
    scroll = page.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width, "the page scrolls sideways at 390px"
    box = search_box(page)
    assert box.size["width"] >= 200
    page.save_screenshot(SCREENSHOT_PHONE)


def test_facet_refines(page, base_url):
    page.get(base_url + "/?q=ウクライナ")
    before = result_count(page)
    link = page.find_element(By.CSS_SELECTOR, "nav[aria-label='情報源で絞り込む'] a")
    name = link.find_element(By.CSS_SELECTOR, ".facet-name").text
    link.click()
    wait(page).until(EC.url_contains("source="))
    after = result_count(page)
    assert after <= before
    assert parse_qs(urlsplit(page.current_url).query)["source"] == [name]
    sources = {e.text for e in page.find_elements(By.CSS_SELECTOR, "li.hit .source")}
    assert sources == {name}
    # The day facet narrows further, keeping the source.
    page.find_element(By.CSS_SELECTOR, "nav[aria-label='日付で絞り込む'] a").click()
    wait(page).until(EC.url_contains("from="))
    assert result_count(page) <= after
    assert parse_qs(urlsplit(page.current_url).query)["source"] == [name]


def test_sort_and_pages(page, base_url):
    page.get(base_url + "/?q=ウクライナ" + ITEMS)
    page.find_element(By.LINK_TEXT, "新しい順").click()
    wait(page).until(EC.url_contains("sort=newest"))
    dates = [t.get_attribute("datetime") for t in page.find_elements(By.CSS_SELECTOR, "li.hit time")]
    assert dates == sorted(dates, reverse=True)
    page.find_element(By.LINK_TEXT, "次へ").click()
    wait(page).until(EC.url_contains("page=2"))
    assert "sort=newest" in page.current_url
    assert len(page.find_elements(By.CSS_SELECTOR, "li.hit")) == 9


def test_open_item(page, base_url):
    page.get(base_url + "/?q=ペスコフ")
    page.find_element(By.PARTIAL_LINK_TEXT, "記事を表示").click()
    wait(page).until(EC.url_contains("/items/"))
    title = page.find_element(By.CSS_SELECTOR, "h1.item-title")
    assert title.text
    marks = page.find_elements(By.CSS_SELECTOR, ".item-body mark")
    assert marks and all(m.text == "ペスコフ" for m in marks)
    assert not console_errors(page)


def test_keyboard(page, base_url):
    # From the top of a results page, Tab reaches the search box...
    page.get(base_url + "/?q=ロシア")
    reached = False
    for _ in range(6):
        ActionChains(page).send_keys(Keys.TAB).perform()
        if page.switch_to.active_element.get_attribute("id") == "q":
            reached = True
            break
    assert reached, "Tab does not reach the search box"
    active = page.switch_to.active_element
    # The focused box shows a visible focus style.
    assert active.value_of_css_property("outline-style") == "solid"
    assert active.value_of_css_property("outline-width") == "3px"
    # ...and the home page has it focused already: type, Enter.
    page.get(base_url + "/")
    assert page.switch_to.active_element.get_attribute("id") == "q"
    ActionChains(page).send_keys("NATO", Keys.ENTER).perform()
    wait(page).until(EC.url_contains("q=NATO"))
    assert api_total(base_url, "NATO") == 5
    assert result_count(page) == api_total(base_url, "NATO", group="story")


def test_skip_link(page, base_url):
    page.get(base_url + "/?q=ロシア")
    ActionChains(page).send_keys(Keys.TAB).perform()
    skip = page.switch_to.active_element
    assert skip.text == "本文へスキップ"
    assert skip.is_displayed()


def test_csp_blocks_nothing_of_ours(page, base_url):
    for url in ("/", "/?q=ロシア", "/?q=a&page=0", "/items/0000000000000000"):
        page.get(base_url + url)
        errors = [e["message"] for e in console_errors(page)
                  if "Content Security Policy" in e["message"] or "Refused" in e["message"]]
        assert not errors, (url, errors)


# ------------------------------------------------------ search as you type

def api_fetches(driver):
    return driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/api/search')).map(e => e.name)")


def live_panel(driver):
    return driver.find_element(By.ID, "live-results")


def test_live_results_while_typing(page, base_url):
    page.get(base_url + "/")
    box = search_box(page)
    box.send_keys("ペスコフ")  # no Enter
    wait(page).until(lambda d: live_panel(d).is_displayed())
    status = live_panel(page).find_element(By.CSS_SELECTOR, ".live-status").text
    assert "3 件" in status
    marks = live_panel(page).find_elements(By.TAG_NAME, "mark")
    assert all(m.text == "ペスコフ" for m in marks)
    links = live_panel(page).find_elements(By.CSS_SELECTOR, ".live-hits a")
    assert len(links) == 3 and all("/items/" in a.get_attribute("href") for a in links)
    assert page.current_url == base_url + "/"  # nothing submitted
    # Typed quickly, the four characters made one request (debounced).
    assert len(api_fetches(page)) == 1


def test_live_results_wait_for_the_ime(page, base_url):
    page.get(base_url + "/")
    search_box(page).click()
    page.execute_script("""
        const box = document.getElementById('q');
        box.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
        for (const text of ['ぺ', 'ぺす', 'ぺすこ', 'ぺすこふ']) {
          box.value = text;
          box.dispatchEvent(new InputEvent('input', {
            data: text, inputType: 'insertCompositionText', isComposing: true}));
        }
    """)
    # Well past the debounce: nothing was searched while composing.
    time.sleep(0.8)
    assert api_fetches(page) == [], "searched during an IME composition"
    assert not live_panel(page).is_displayed()
    # Committing the composition searches once.
    page.execute_script("""
        const box = document.getElementById('q');
        box.value = 'ペスコフ';
        box.dispatchEvent(new InputEvent('input', {
          data: 'ペスコフ', inputType: 'insertCompositionText', isComposing: true}));
        box.dispatchEvent(new CompositionEvent('compositionend', {data: 'ペスコフ'}));
    """)
    wait(page).until(lambda d: live_panel(d).is_displayed())
    assert "3 件" in live_panel(page).text
    assert len(api_fetches(page)) == 1


def test_submit_keeps_the_address_short(page, base_url):
    page.get(base_url + "/")
    box = search_box(page)
    box.send_keys("NATO", Keys.ENTER)
    wait(page).until(EC.url_contains("q=NATO"))
    assert urlsplit(page.current_url).query == "q=NATO"  # no sort=relevance&op=and&from=&to=
    assert result_count(page) == api_total(base_url, "NATO", group="story")


def test_page_works_without_javascript(browser_without_js, base_url):
    driver = browser_without_js
    driver.get(base_url + "/")
    box = search_box(driver)
    box.send_keys("ウクライナ", Keys.ENTER)
    wait(driver).until(EC.url_contains("q="))
    query = parse_qs(urlsplit(driver.current_url).query)
    assert query["sort"] == ["relevance"]  # the plain form, no script touched it
    before = result_count(driver)
    assert api_total(base_url, "ウクライナ") == 19
    assert before == api_total(base_url, "ウクライナ", group="story")
    assert not driver.find_elements(By.ID, "live-results")
    driver.find_element(By.CSS_SELECTOR, "nav[aria-label='日付で絞り込む'] a").click()
    wait(driver).until(EC.url_contains("from="))
    assert result_count(driver) < before
    driver.find_element(By.LINK_TEXT, "古い順").click()
    wait(driver).until(EC.url_contains("sort=oldest"))
    driver.find_element(By.PARTIAL_LINK_TEXT, "記事を表示").click()
    wait(driver).until(EC.url_contains("/items/"))
    assert driver.find_elements(By.CSS_SELECTOR, ".item-body mark")
