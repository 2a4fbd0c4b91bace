import { useTranslation } from 'react-i18next';
import { navigate } from '../router';
import { Logo } from './Icon';
import { LanguageSwitch } from './ui';

export function Header() {
  const { t } = useTranslation();
  return (
    <header className="site-header">
      <a
        href="/"
        className="brand"
        onClick={(event) => {
          event.preventDefault();
          navigate('/');
        }}
      >
        <Logo />
        <span>{t('app.name')}</span>
      </a>
      <LanguageSwitch />
    </header>
  );
}
