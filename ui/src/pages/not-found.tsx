import { href } from "../router";

export function NotFoundPage() {
  return (
    <section>
      <h1>No such page</h1>
      <p>
        <a href={href("/")}>Go to the repositories</a>
      </p>
    </section>
  );
}
