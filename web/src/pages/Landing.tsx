// `/`: start a meeting (your name, then one click; the name is remembered), or join one by
// its code or link. The name comes first so the meeting opens with "Ada joined", not with a
// placeholder name renamed a moment later.
import { type FormEvent, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api';
import { Icon } from '../components/Icon';
import { Header } from '../components/Header';
import { errorCode } from '../notices';
import { codeFrom, navigate } from '../router';
import './landing.css';
import { savedName, saveName } from './names';

export function Landing() {
  const { t } = useTranslation();
  const [name, setName] = useState(savedName);
  const [nameMissing, setNameMissing] = useState(false);
  const nameInput = useRef<HTMLInputElement>(null);
  const [title, setTitle] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function start(event: FormEvent) {
    event.preventDefault();
    const displayName = name.trim();
    if (!displayName) {
      setNameMissing(true);
      nameInput.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    saveName(displayName); // the pre-join offers it, so joining changes nothing
    try {
      const room = await api.createRoom(title.trim(), displayName);
      navigate(`/r/${room.code}`, { created: true });
    } catch (failure) {
      const { key, params } = errorCode(failure);
      setError(t(key, params));
      setBusy(false);
    }
  }

  function join(event: FormEvent) {
    event.preventDefault();
    const parsed = codeFrom(code);
    if (parsed) navigate(`/r/${parsed}`);
    else setError(t('landing.badCode'));
  }

  return (
    <div className="page landing">
      <Header />
      <main className="landing-main">
        <section className="landing-copy">
          <h1>{t('landing.headline')}</h1>
          <p className="lead">{t('landing.lead')}</p>
          <form className="start-form with-name" onSubmit={(event) => void start(event)}>
            <label className="sr-only" htmlFor="host-name">
              {t('landing.nameLabel')}
            </label>
            <input
              id="host-name"
              ref={nameInput}
              className="input host-name"
              placeholder={t('landing.namePlaceholder')}
              value={name}
              maxLength={200}
              autoComplete="nickname"
              aria-invalid={nameMissing || undefined}
              aria-describedby={nameMissing ? 'host-name-missing' : undefined}
              onChange={(event) => {
                setName(event.target.value);
                setNameMissing(false);
              }}
            />
            <label className="sr-only" htmlFor="meeting-title">
              {t('landing.titleLabel')}
            </label>
            <input
              id="meeting-title"
              className="input"
              placeholder={t('landing.titlePlaceholder')}
              value={title}
              maxLength={200}
              onChange={(event) => setTitle(event.target.value)}
            />
            <button type="submit" className="button primary large" disabled={busy} data-testid="new-meeting">
              <Icon name="videoCall" />
              {busy ? t('landing.starting') : t('landing.start')}
            </button>
          </form>
          {nameMissing ? (
            <p className="form-error" role="alert" id="host-name-missing">
              <Icon name="warning" size={18} /> {t('landing.nameFirst')}
            </p>
          ) : null}
          <div className="divider">
            <span>{t('landing.or')}</span>
          </div>
          <form className="join-form" onSubmit={join}>
            <label className="sr-only" htmlFor="meeting-code">
              {t('landing.joinLabel')}
            </label>
            <div className="input-with-icon">
              <Icon name="keyboard" size={20} />
              <input
                id="meeting-code"
                className="input"
                placeholder={t('landing.joinPlaceholder')}
                value={code}
                onChange={(event) => {
                  setCode(event.target.value);
                  setError(null);
                }}
              />
            </div>
            <button type="submit" className="button secondary large" disabled={!code.trim()}>
              {t('landing.join')}
            </button>
          </form>
          {error ? (
            <p className="form-error" role="alert">
              <Icon name="warning" size={18} /> {error}
            </p>
          ) : null}
          <ul className="features">
            <li>
              <Icon name="cam" size={18} /> {t('landing.feature1')}
            </li>
            <li>
              <Icon name="transcript" size={18} /> {t('landing.feature2')}
            </li>
            <li>
              <Icon name="chat" size={18} /> {t('landing.feature3')}
            </li>
          </ul>
        </section>
        <section className="landing-art" aria-hidden="true">
          <div className="art-grid">
            {[
              ['A', 210, true],
              ['M', 330, false],
              ['K', 145, false],
              ['Д', 45, true],
            ].map(([letter, hue, speaking]) => (
              <div key={String(letter)} className={`art-tile ${speaking === true && letter === 'A' ? 'speaking' : ''}`}>
                <span className="avatar" style={{ background: `hsl(${hue} 55% 45%)` }}>
                  {letter}
                </span>
                <span className="art-name" />
              </div>
            ))}
          </div>
          <div className="art-bar">
            <span />
            <span />
            <span className="end" />
          </div>
        </section>
      </main>
    </div>
  );
}
