import { useState, type FormEvent } from "react";
import { Modal } from "./Modal";

interface Props {
  message: string;
  onSubmit: (token: string) => void;
  onCancel: () => void;
}

/** Asked when a request answers 401/403: the token is kept in this browser for later requests. */
export function TokenDialog({ message, onSubmit, onCancel }: Props) {
  const [token, setTokenValue] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) onSubmit(token.trim());
  };
  return (
    <Modal title="Access token needed" onClose={onCancel}>
      <form onSubmit={submit} className="token-form">
        <p>{message || "This action needs an editor or admin token."}</p>
        <label htmlFor="api-token">API token</label>
        <input
          id="api-token"
          type="password"
          autoComplete="off"
          data-autofocus
          value={token}
          onChange={(e) => setTokenValue(e.target.value)}
        />
        <div className="row-actions">
          <button type="button" className="btn" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={!token.trim()}>
            Save and retry
          </button>
        </div>
      </form>
    </Modal>
  );
}
