"""One page object per dashboard page: what a user does there, in the browser's terms."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


class Page:
    path = "/"

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.d, self.base = driver, base.rstrip("/")

    def open(self, query: str = "") -> "Page":
        self.d.get(self.base + self.path + (f"?{query}" if query else ""))
        return self

    def heading(self) -> str:
        return self.d.find_element(By.TAG_NAME, "h1").text

    def wait_for(self, css: str) -> None:
        WebDriverWait(self.d, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def nav(self, label: str) -> None:
        self.d.find_element(By.LINK_TEXT, label).click()


class LoginPage(Page):
    path = "/login"

    def log_in(self, name: str, password: str) -> None:
        self.d.find_element(By.NAME, "name").send_keys(name)
        self.d.find_element(By.NAME, "password").send_keys(password)
        self.d.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()

    def error(self) -> str:
        return self.d.find_element(By.CSS_SELECTOR, ".error").text


class OverviewPage(Page):
    path = "/"

    def kpi(self, label: str) -> str:
        for card in self.d.find_elements(By.CSS_SELECTOR, ".kpi"):
            if label in card.find_element(By.CSS_SELECTOR, ".kpi-label").text:
                return card.find_element(By.CSS_SELECTOR, ".kpi-value").text
        raise KeyError(label)

    def clinic_totals(self) -> dict[str, int]:
        out = {}
        for row in self.d.find_elements(By.CSS_SELECTOR, "table.weeks tbody tr"):
            cells = row.find_elements(By.CSS_SELECTOR, "td.strong")
            if cells:
                out[row.find_element(By.CSS_SELECTOR, "th a").text] = int(cells[0].text)
        return out

    def filter_clinic(self, clinic: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.d.find_element(By.NAME, "clinic")).select_by_visible_text(clinic)
        self.d.find_element(By.CSS_SELECTOR, "form.filters button").click()


class ExamsPage(Page):
    path = "/exams"

    def open_exam(self, index: int = 0) -> "ExamPage":
        self.d.find_elements(By.CSS_SELECTOR, "table.exams tbody td:first-child a")[index].click()
        return ExamPage(self.d, self.base)


class AlertsPage(Page):
    path = "/alerts"

    def rows(self) -> list[str]:
        return [r.text for r in self.d.find_elements(By.CSS_SELECTOR, "table.alerts tbody tr[id^='alert-']")]

    def open_first_exam(self) -> "ExamPage":
        self.d.find_element(By.CSS_SELECTOR, "table.alerts tbody tr[id^='alert-'] td a").click()
        return ExamPage(self.d, self.base)


class ExamPage(Page):
    def measurement_rows(self) -> dict[str, str]:
        rows = self.d.find_elements(By.CSS_SELECTOR, "table.measurements tbody tr")
        return {r.find_element(By.CSS_SELECTOR, "th .mname").text: r.text for r in rows}

    def charts(self) -> int:
        return len(self.d.find_elements(By.CSS_SELECTOR, "figure.chart svg"))

    def acknowledge_first_alert(self, note: str) -> None:
        form = self.d.find_element(By.CSS_SELECTOR, ".alert-item form.ack-form")
        form.find_element(By.NAME, "note").send_keys(note)
        form.find_element(By.TAG_NAME, "button").click()

    def acknowledged(self) -> list[str]:
        return [e.text for e in self.d.find_elements(By.CSS_SELECTOR, ".alert-item .acked")]


class DevicesPage(Page):
    path = "/devices"

    def names(self) -> list[str]:
        return [a.text for a in self.d.find_elements(By.CSS_SELECTOR, "table.devices tbody th a")]


class ClinicsPage(Page):
    path = "/clinics"

    def names(self) -> list[str]:
        return [a.text for a in self.d.find_elements(By.CSS_SELECTOR, "table.clinics tbody th a")]
