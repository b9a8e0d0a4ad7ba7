import { useState } from 'react';
import { useLoaderData } from 'react-router';

// Read at request time on the server: a reload's new workers answer with their own version.
export function loader() {
  return { version: process.env.APP_VERSION ?? 'unknown' };
}

export default function Home() {
  const { version } = useLoaderData();
  // State only the client bundle can change: the page works only when its /assets/*.js load.
  const [clicks, setClicks] = useState(0);
  return (
    <main>
      <h1>version {version}</h1>
      <button type="button" onClick={() => setClicks(clicks + 1)}>clicked {clicks} times</button>
    </main>
  );
}
