import Link from 'next/link';
import { Button, Input, Label, Select, buttonClass } from '@/components/ui';

/** One field of an admin page's filter form; its value comes from the page's search params. */
export type FilterField =
  | { kind: 'text'; name: string; label: string; value?: string; width?: string }
  | { kind: 'date'; name: string; label: string; value?: string }
  | { kind: 'select'; name: string; label: string; value?: string; options: readonly string[] };

/** The GET search form the admin lists share: fields, "Show", and "Clear" back to the bare page. */
export function FilterBar({ action, fields }: { action: string; fields: readonly FilterField[] }) {
  return (
    <form role="search" action={action} className="flex flex-wrap items-end gap-3">
      {fields.map((f) => (
        <div key={f.name}>
          <Label htmlFor={f.name}>{f.label}</Label>
          {f.kind === 'select' ? (
            <Select id={f.name} name={f.name} defaultValue={f.value ?? ''}>
              <option value="">any</option>
              {f.options.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </Select>
          ) : (
            <Input
              id={f.name}
              name={f.name}
              type={f.kind}
              defaultValue={f.value ?? ''}
              className={f.kind === 'text' ? (f.width ?? 'w-64') : undefined}
            />
          )}
        </div>
      ))}
      <Button type="submit">Show</Button>
      <Link href={action} className={buttonClass('ghost')}>
        Clear
      </Link>
    </form>
  );
}
