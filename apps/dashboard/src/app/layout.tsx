import type { Metadata } from 'next';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'LA Scar', template: '%s · LA Scar' },
  description: 'Left-atrial scar burden from LGE MRI',
  robots: { index: false, follow: false },
};

// Applies the saved theme (or the system's) before the first paint: no light flash in the dark.
const themeScript = `try{var t=localStorage.getItem('lascar-theme');var d=t?t==='dark':matchMedia('(prefers-color-scheme: dark)').matches;document.documentElement.classList.toggle('dark',d)}catch(e){}`;

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: themeScript }} />
      </head>
      <body className="min-h-screen antialiased">{children}</body>
    </html>
  );
}
