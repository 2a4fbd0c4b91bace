import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './i18n';
import './styles.css';
import { Landing } from './pages/Landing';
import { RoomPage } from './pages/RoomPage';
import { useRoute } from './router';

function App() {
  const route = useRoute();
  return route.page === 'room' ? <RoomPage key={route.code} code={route.code} /> : <Landing />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
