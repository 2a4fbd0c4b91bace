// i18next with the two bundled languages. The choice: what the user picked (localStorage),
// else the browser's language, else English.
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from './locales/en';
import ru from './locales/ru';

export const LANGUAGES = { en: 'English', ru: 'Русский' } as const;
export type Language = keyof typeof LANGUAGES;
const KEY = 'moot.language';

function initial(): Language {
  const saved = localStorage.getItem(KEY);
  if (saved === 'en' || saved === 'ru') return saved;
  const browser = (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase();
  return browser.startsWith('ru') ? 'ru' : 'en';
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, ru: { translation: ru } },
  lng: initial(),
  fallbackLng: 'en',
  interpolation: { escapeValue: false }, // React escapes
  returnNull: false,
});

function apply(lng: string) {
  document.documentElement.lang = lng;
}
apply(i18n.language);
i18n.on('languageChanged', apply);

export function setLanguage(lng: Language) {
  localStorage.setItem(KEY, lng);
  void i18n.changeLanguage(lng);
}

/** Hours and minutes, the way `language` writes them. */
export function timeOfDay(date: Date, language: string) {
  return date.toLocaleTimeString(language, { hour: '2-digit', minute: '2-digit' });
}

export default i18n;
